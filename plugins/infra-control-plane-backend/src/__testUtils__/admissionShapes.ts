import {
  ANNOTATIONS,
  DEFAULT_PLATFORM_SECRET_NAME,
  EGRESS_CREDENTIAL_KEY,
  LABELS,
} from '@internal/plugin-infra-control-plane-node';
import { V1Job } from '@kubernetes/client-node';
import { agentOf, podOf, refusal, setEnv } from './admission';

/** Each forbidden Job shape: one change to a Job the platform builds, and the refusal it must get. */
export const FORBIDDEN: Array<[string, (job: V1Job) => void, RegExp]> = [
  [
    'a Job that is not a run (no reserved labels, no managed-by label or execution annotation)',
    j => {
      const template = j.spec!.template.metadata!;
      for (const label of [
        LABELS.managedBy,
        LABELS.egress,
        LABELS.platformApi,
      ]) {
        delete j.metadata!.labels![label];
        delete template.labels![label];
      }
      delete j.metadata!.annotations![ANNOTATIONS.executionId];
      delete template.annotations![ANNOTATIONS.executionId];
    },
    refusal('reserved-labels', 5),
  ],
  [
    'an image from another registry',
    j => (agentOf(j).image = 'attacker.example/steal:latest'),
    refusal('images', 0),
  ],
  [
    'a registry name with an allowed prefix',
    j => (agentOf(j).image = 'registry.example.com.attacker.example/x:1'),
    refusal('images', 0),
  ],
  [
    'the whole platform Secret as a volume',
    j =>
      podOf(j).volumes!.push({
        name: 'p',
        secret: { secretName: DEFAULT_PLATFORM_SECRET_NAME },
      }),
    refusal('pod-secrets', 0),
  ],
  [
    'a platform Secret key that is not granted',
    j =>
      podOf(j).volumes![1].projected!.sources!.push({
        secret: {
          name: DEFAULT_PLATFORM_SECRET_NAME,
          items: [{ key: 'ADMIN_TOKEN', path: 'x' }],
        },
      }),
    refusal('pod-secrets', 0),
  ],
  [
    'the platform Secret projected without items',
    j =>
      podOf(j).volumes![1].projected!.sources!.push({
        secret: { name: DEFAULT_PLATFORM_SECRET_NAME },
      }),
    refusal('pod-secrets', 0),
  ],
  [
    "another run's Secret",
    j =>
      podOf(j).volumes![1].projected!.sources!.push({
        secret: {
          name: 'run-other-secrets',
          items: [{ key: 'GH_TOKEN', path: 'GH_TOKEN' }],
        },
      }),
    refusal('pod-secrets', 0),
  ],
  [
    'the egress credential as a file',
    j =>
      podOf(j).volumes![1].projected!.sources!.push({
        secret: {
          name: `${j.metadata!.name}-secrets`,
          items: [{ key: EGRESS_CREDENTIAL_KEY, path: 'c' }],
        },
      }),
    refusal('pod-secrets', 0),
  ],
  [
    'a platform Secret key in the environment',
    j =>
      agentOf(j).env!.push({
        name: 'K',
        valueFrom: {
          secretKeyRef: {
            name: DEFAULT_PLATFORM_SECRET_NAME,
            key: 'OPENAI_API_KEY',
          },
        },
      }),
    refusal('pod-secrets', 1),
  ],
  [
    'a Secret as envFrom',
    j =>
      (agentOf(j).envFrom = [
        { secretRef: { name: `${j.metadata!.name}-secrets` } },
      ]),
    refusal('pod-secrets', 1),
  ],
  [
    'reserved labels without the execution annotations',
    j => {
      delete j.metadata!.annotations![ANNOTATIONS.executionId];
      delete j.spec!.template.metadata!.annotations![ANNOTATIONS.executionId];
    },
    refusal('reserved-labels', 0),
  ],
  [
    'reserved labels without the managed-by label',
    j => {
      delete j.spec!.template.metadata!.labels![LABELS.managedBy];
    },
    refusal('reserved-labels', 0),
  ],
  [
    'a reserved label with another value',
    j => (j.spec!.template.metadata!.labels![LABELS.egress] = 'yes'),
    refusal('reserved-labels', 1),
  ],
  [
    'egress allowed without the http tool',
    j => setEnv(j, 'AGENT_TOOLS', JSON.stringify([{ name: 'llm' }])),
    refusal('reserved-labels', 2),
  ],
  [
    'platform API allowed without llm or catalog',
    j =>
      setEnv(
        j,
        'AGENT_TOOLS',
        JSON.stringify([{ name: 'http', allowHosts: ['x'] }]),
      ),
    refusal('reserved-labels', 3),
  ],
  [
    'a sidecar beside the agent with egress allowed',
    j => podOf(j).containers.push({ ...agentOf(j), name: 'sidecar', env: [] }),
    refusal('reserved-labels', 4),
  ],
  [
    'missing resource limits',
    j => delete agentOf(j).resources!.limits,
    refusal('hardening', 0),
  ],
  ['hostNetwork', j => (podOf(j).hostNetwork = true), refusal('hardening', 1)],
  ['hostPID', j => (podOf(j).hostPID = true), refusal('hardening', 1)],
  [
    'a hostPath volume',
    j => podOf(j).volumes!.push({ name: 'h', hostPath: { path: '/' } }),
    refusal('hardening', 2),
  ],
  [
    'a ServiceAccount token mount',
    j => (podOf(j).automountServiceAccountToken = true),
    refusal('hardening', 3),
  ],
  [
    'another ServiceAccount',
    j => (podOf(j).serviceAccountName = 'builder'),
    refusal('hardening', 3),
  ],
  [
    'a projected ServiceAccount token',
    j =>
      podOf(j).volumes!.push({
        name: 't',
        projected: { sources: [{ serviceAccountToken: { path: 't' } }] },
      }),
    refusal('hardening', 3),
  ],
  [
    'a privileged container',
    j =>
      Object.assign(agentOf(j).securityContext!, {
        privileged: true,
        allowPrivilegeEscalation: true,
      }),
    refusal('hardening', 4),
  ],
  [
    'privilege escalation',
    j => (agentOf(j).securityContext!.allowPrivilegeEscalation = true),
    refusal('hardening', 4),
  ],
  [
    'an added capability',
    j =>
      (agentOf(j).securityContext!.capabilities = {
        drop: ['ALL'],
        add: ['NET_ADMIN'],
      }),
    refusal('hardening', 4),
  ],
  [
    'root',
    j => {
      agentOf(j).securityContext!.runAsUser = 0;
      agentOf(j).securityContext!.runAsNonRoot = false;
    },
    refusal('hardening', 4),
  ],
];
