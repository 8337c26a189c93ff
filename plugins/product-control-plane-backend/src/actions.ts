import { LoggerService } from '@backstage/backend-plugin-api';
import { ActionsRegistryService } from '@backstage/backend-plugin-api/alpha';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { AGENT_KIND, AgentEntity } from '@internal/plugin-agents-common';
import { EntitlementError, PolicyLimitError } from './services/errors';
import { ExecutionService } from './services/ExecutionService';
import { toView } from './services/executionView';

/**
 * Registers "list-agents", "run-agent" and "get-execution" in the actions
 * registry (MCP clients reach them through the MCP actions backend). They go
 * through ExecutionService, so the same validation and policy apply.
 */
export function registerActions(options: {
  actionsRegistry: ActionsRegistryService;
  catalog: CatalogService;
  executions: ExecutionService;
  logger: LoggerService;
}) {
  const { actionsRegistry, catalog, executions } = options;

  actionsRegistry.register({
    name: 'list-agents',
    title: 'List agents',
    description:
      'Lists the AI agents in the Agent Platform catalog with their version, description, input schema and plans.',
    attributes: { readOnly: true, idempotent: true, destructive: false },
    schema: {
      input: z =>
        z.object({
          query: z
            .string()
            .optional()
            .describe(
              'Only agents whose name, title or description contains this text',
            ),
        }),
      output: z =>
        z.object({
          agents: z.array(
            z.object({
              ref: z.string(),
              title: z.string().optional(),
              description: z.string().optional(),
              version: z.string(),
              visibility: z.string().optional(),
              input: z.record(z.string(), z.unknown()),
              plans: z.array(z.string()),
            }),
          ),
        }),
    },
    action: async ({ input, credentials }) => {
      const { items } = await catalog.getEntities(
        { filter: { kind: AGENT_KIND } },
        { credentials },
      );
      const q = input.query?.toLocaleLowerCase('en-US');
      const agents = (items as AgentEntity[])
        .filter(
          e =>
            !q ||
            [e.metadata.name, e.metadata.title, e.metadata.description]
              .filter(Boolean)
              .some(s => s!.toLocaleLowerCase('en-US').includes(q)),
        )
        .map(e => ({
          ref: stringifyEntityRef(e),
          title: e.metadata.title,
          description: e.metadata.description,
          version: e.spec.version,
          visibility: e.spec.marketplace?.visibility,
          input: e.spec.input as Record<string, unknown>,
          plans: (e.spec.marketplace?.plans ?? []).map(p => p.name),
        }));
      return { output: { agents } };
    },
  });

  actionsRegistry.register({
    name: 'run-agent',
    title: 'Run an agent',
    description:
      'Starts a run of an agent with the given input, under the caller\'s entitlement and the platform policy. mode "sync" waits for the result (bounded); "async" returns the execution id to poll with get-execution.',
    attributes: { readOnly: false, idempotent: false, destructive: false },
    schema: {
      input: z =>
        z.object({
          agentRef: z.string().describe('e.g. agent:default/summarizer'),
          input: z.record(z.string(), z.unknown()).default({}),
          version: z
            .string()
            .optional()
            .describe('Exact version or semver range; latest when omitted'),
          plan: z.string().optional(),
          mode: z.enum(['sync', 'async']).default('async'),
          idempotencyKey: z.string().optional(),
        }),
      output: z =>
        z.object({
          id: z.string().optional(),
          state: z.string().optional(),
          agentRef: z.string(),
          agentVersion: z.string().optional(),
          result: z.unknown().optional(),
          message: z.string().optional(),
          refused: z
            .object({ code: z.string(), message: z.string() })
            .optional()
            .describe(
              'Set when the platform refused the run: the reason in words and its code (e.g. not-entitled: acquire a plan in the marketplace; holder-concurrency: wait for a running run)',
            ),
        }),
    },
    action: async ({ input, credentials }) => {
      let created;
      try {
        created = await executions.create(
          {
            agentRef: input.agentRef,
            input: input.input as any,
            version: input.version,
            plan: input.plan,
            mode: input.mode,
            idempotencyKey: input.idempotencyKey,
          },
          credentials,
        );
      } catch (error) {
        // A refusal is an answer for the client, in the server's words; the
        // actions registry would reduce a thrown one to its HTTP status.
        if (
          error instanceof EntitlementError ||
          error instanceof PolicyLimitError
        ) {
          return {
            output: {
              agentRef: input.agentRef,
              refused: { code: error.code, message: error.message },
            },
          };
        }
        throw error;
      }
      const { record } = created;
      const current =
        input.mode === 'sync'
          ? await executions.waitForTerminal(record.id)
          : record;
      return {
        output: {
          id: current.id,
          state: current.state,
          agentRef: current.agentRef,
          agentVersion: current.agentVersion,
          ...(current.result !== undefined ? { result: current.result } : {}),
          ...(current.message ? { message: current.message } : {}),
        },
      };
    },
  });

  actionsRegistry.register({
    name: 'get-execution',
    title: 'Get an execution',
    description:
      'Returns the state, timestamps, cost and result of one agent execution the caller may read.',
    attributes: { readOnly: true, idempotent: true, destructive: false },
    schema: {
      input: z => z.object({ id: z.string() }),
      output: z =>
        z.object({
          execution: z.record(z.string(), z.unknown()),
        }),
    },
    action: async ({ input, credentials }) => {
      const record = await executions.get(input.id, credentials);
      return {
        output: {
          execution: JSON.parse(JSON.stringify(toView(record))),
        },
      };
    },
  });
}
