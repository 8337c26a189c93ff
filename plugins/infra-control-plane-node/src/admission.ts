/**
 * The values the Job spec builder and the runs namespace's admission
 * policies (k8s/15-runs-admission.yaml) must agree on. The policies hold them
 * as CEL variables, rendered by `renderAdmissionValues` (admissionParams.ts)
 * from these and the deployment's values; a test compares the shipped
 * policies with it.
 */

/** Namespace of the portal and of its ServiceAccounts. @public */
export const PORTAL_NAMESPACE = 'agent-platform';
/** Namespace agent runs (Jobs of the infra control plane) go to. @public */
export const RUNS_NAMESPACE = 'agent-platform-runs';
/** Namespace generic platform tasks (`kubernetes:job:create`, image builds) go to. @public */
export const TASKS_NAMESPACE = 'agent-platform-tasks';
/** The infra plane's run identity: the only one that may create Jobs and Secrets in the runs namespace. @public */
export const RUN_SERVICE_ACCOUNT = 'agent-platform-portal';
/** The identity of generic platform tasks: Jobs in the tasks namespace only. @public */
export const TASK_SERVICE_ACCOUNT = 'agent-platform-task-runner';
/** The Secret (in the portal namespace) holding a token of {@link TASK_SERVICE_ACCOUNT}. @public */
export const TASK_TOKEN_SECRET = 'agent-platform-task-runner-token';

/** Name prefix of the admission policies and bindings of the runs namespace. @public */
export const ADMISSION_POLICY_PREFIX = 'agent-platform-runs-';
/** Suffix of a run Secret's name after its Job's name. @public */
export const RUN_SECRET_SUFFIX = '-secrets';
/** Every name `runSecretNameFor` can give (a Job name `run-...` + {@link RUN_SECRET_SUFFIX}). @public */
export const RUN_SECRET_NAME_PATTERN =
  '^run-[a-z0-9]([-a-z0-9]*[a-z0-9])?-secrets$';
export { DEFAULT_ALLOWED_REGISTRIES } from '@internal/plugin-agents-common';
/** The Kubernetes Secret of platform secrets unless configured. @public */
export const DEFAULT_PLATFORM_SECRET_NAME = 'agent-platform-secrets';
/** Who creates the pods of Jobs (kube-controller-manager with --use-service-account-credentials). @public */
export const JOB_CONTROLLER_USER =
  'system:serviceaccount:kube-system:job-controller';

/** Who deletes a namespace's objects when the namespace goes. @public */
export const NAMESPACE_CONTROLLER_USER =
  'system:serviceaccount:kube-system:namespace-controller';

/** The username of a ServiceAccount as the apiserver sees it. @public */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}
