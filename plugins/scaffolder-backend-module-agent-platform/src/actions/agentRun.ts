import { AuthService, DiscoveryService } from '@backstage/backend-plugin-api';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import {
  isTerminalExecutionState,
  PRODUCT_CONTROL_PLANE_PLUGIN_ID,
} from '@internal/plugin-agents-common';
import { examples } from './agentRun.examples';

async function refusal(response: Response, what: string): Promise<Error> {
  const text = await response.text().catch(() => '');
  let message = text.slice(0, 500);
  try {
    message = JSON.parse(text)?.error?.message ?? message;
  } catch {
    // not JSON: keep the text
  }
  return new Error(`The product control plane refused to ${what} (HTTP ${response.status}): ${message}`);
}

/** Dependencies of {@link createAgentRunAction}. @public */
export interface AgentRunActionOptions {
  auth: AuthService;
  discovery: DiscoveryService;
  fetchFn?: typeof fetch;
  /** Poll interval while waiting for the run to end (default 1000 ms). */
  pollIntervalMs?: number;
}

/**
 * `agent:run`: runs an agent through the product control plane's executions
 * API with the initiating user's identity, so entitlements, quotas, input
 * validation and policy all apply as for a Run button. Waits for the end and
 * outputs the execution id, state and result.
 *
 * @public
 */
export function createAgentRunAction(options: AgentRunActionOptions) {
  const fetchFn = options.fetchFn ?? fetch;
  return createTemplateAction({
    id: 'agent:run',
    description:
      'Runs an Agent through the product control plane (every policy applies) and outputs the execution id and result',
    examples,
    supportsDryRun: true,
    schema: {
      input: {
        agentRef: z => z.string().min(1).describe('Agent entity ref, e.g. agent:default/summarizer'),
        input: z =>
          z.record(z.string(), z.unknown()).default({}).describe('Input matching the agent input schema'),
        plan: z => z.string().optional().describe('Plan to run under (default: the best entitlement)'),
        version: z => z.string().optional().describe('Agent version'),
        wait: z => z.boolean().default(true).describe('Wait for the run to end'),
        waitTimeoutSeconds: z =>
          z.number().int().min(1).max(3600).default(600).describe('How long to wait for the end'),
      },
      output: {
        executionId: z => z.string().describe('The execution id'),
        state: z => z.string().describe('The execution state when the step ended'),
        result: z => z.unknown().optional().describe('The agent result (when succeeded)'),
      },
    },
    async handler(ctx) {
      const { agentRef, input, plan, version } = ctx.input;
      const wait = ctx.input.wait ?? true;
      if (ctx.isDryRun) {
        ctx.logger.info(`Dry run: would run ${agentRef} with input ${JSON.stringify(input ?? {})}`);
        ctx.output('executionId', 'dry-run');
        ctx.output('state', 'dry-run');
        return;
      }
      const baseUrl = await options.discovery.getBaseUrl(PRODUCT_CONTROL_PLANE_PLUGIN_ID);
      const token = async () =>
        (
          await options.auth.getPluginRequestToken({
            onBehalfOf: await ctx.getInitiatorCredentials(),
            targetPluginId: PRODUCT_CONTROL_PLANE_PLUGIN_ID,
          })
        ).token;
      const idempotencyKey = `scaffolder:${ctx.task?.id ?? 'task'}:${agentRef}`;
      const execution = await ctx.checkpoint({
        key: `agent-run-${agentRef}`,
        fn: async () => {
          const response = await fetchFn(`${baseUrl}/executions`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${await token()}`,
              'idempotency-key': idempotencyKey,
            },
            body: JSON.stringify({
              agentRef,
              input: input ?? {},
              ...(plan ? { plan } : {}),
              ...(version ? { version } : {}),
              mode: 'async',
            }),
          });
          if (!response.ok) {
            throw await refusal(response, `run ${agentRef}`);
          }
          const body = await response.json();
          return { id: String(body.id ?? body.executionId), state: String(body.state) };
        },
      });
      ctx.logger.info(`Execution ${execution.id} of ${agentRef} is ${execution.state}`);
      ctx.output('executionId', execution.id);

      let current: any = { state: execution.state };
      const deadline = Date.now() + (ctx.input.waitTimeoutSeconds ?? 600) * 1000;
      while (wait && !isTerminalExecutionState(current.state)) {
        if (ctx.signal?.aborted) throw new Error('The task was cancelled');
        if (Date.now() > deadline) {
          ctx.output('state', current.state);
          throw new Error(`Execution ${execution.id} did not end within ${ctx.input.waitTimeoutSeconds ?? 600}s (state ${current.state})`);
        }
        await new Promise(r => setTimeout(r, options.pollIntervalMs ?? 1000));
        const response = await fetchFn(`${baseUrl}/executions/${encodeURIComponent(execution.id)}`, {
          headers: { authorization: `Bearer ${await token()}` },
        });
        if (!response.ok) throw await refusal(response, `report execution ${execution.id}`);
        current = await response.json();
      }
      ctx.output('state', current.state);
      if (!wait) return;
      if (current.state !== 'succeeded') {
        throw new Error(
          `Execution ${execution.id} of ${agentRef} ended ${current.state}${current.exitReason ? ` (${current.exitReason})` : ''}${current.message ? `: ${current.message}` : ''}`,
        );
      }
      ctx.output('result', current.result);
    },
  });
}
