import fs from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_PLATFORM_SECRET_NAME,
  EGRESS_CREDENTIAL_KEY,
  LABELS,
  renderAdmissionValues,
  RUN_SECRET_NAME_PATTERN,
  RUNS_NAMESPACE,
  runSecretNameFor,
} from '@internal/plugin-infra-control-plane-node';
import { BatchV1Api, CoreV1Api, V1Job } from '@kubernetes/client-node';
import fc from 'fast-check';
import { REPO_ROOT, waitFor } from './__testUtils__';
import {
  ADMISSION_FILE,
  agentOf,
  attackJob,
  fullJob,
  jobOf,
  NS,
  planOf,
  podOf,
  policies,
  refusal,
  refused,
  useAdmissionInstance,
} from './__testUtils__/admission';
import { FORBIDDEN } from './__testUtils__/admissionShapes';
import { loadManifests } from './__testUtils__/manifests';

jest.setTimeout(180_000);

describe('the runs namespace admission policies (k8s/15-runs-admission.yaml)', () => {
  it('take their values from the builder: every value variable, the run Secret pattern', () => {
    const values = renderAdmissionValues({
      platformSecretKeys: ['OPENAI_API_KEY'],
    });
    const found = policies.flatMap(p =>
      (p.spec.variables ?? [])
        .filter((v: any) => v.name in values)
        .map((v: any) => ({
          policy: p.metadata!.name,
          name: v.name,
          expression: v.expression,
        })),
    );
    expect(found).toEqual(
      found.map(f => ({ ...f, expression: values[f.name] })),
    );
    // Every value is used by some policy, and rules name none literally (only through the variables).
    expect(new Set(found.map(f => f.name))).toEqual(
      new Set(Object.keys(values)),
    );
    expect(JSON.stringify(policies.map(p => p.spec.validations))).not.toMatch(
      /agentplatform\.dev\/|registry\.example\.com|agent-platform-secrets|system:serviceaccount/,
    );
    const patterns = policies.flatMap(p =>
      (p.spec.variables ?? []).filter(
        (v: any) => v.name === 'runSecretPattern',
      ),
    );
    expect(patterns.map((v: any) => v.expression)).toEqual([
      `'${RUN_SECRET_NAME_PATTERN}'`,
      `'${RUN_SECRET_NAME_PATTERN}'`,
    ]);
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 99 }),
        (id, attempt) =>
          new RegExp(RUN_SECRET_NAME_PATTERN).test(
            runSecretNameFor(id, attempt),
          ),
      ),
    );
    // Each policy has a binding to the runs namespace only, enforced.
    const bindings = loadManifests(ADMISSION_FILE).filter(
      o => o.kind === 'ValidatingAdmissionPolicyBinding',
    );
    expect(bindings.map(b => b.spec.policyName).sort()).toEqual(
      policies.map(p => p.metadata!.name).sort(),
    );
    for (const b of bindings) {
      expect(b.spec.validationActions).toEqual(['Deny']);
      expect(b.spec.matchResources).toEqual({
        namespaceSelector: {
          matchLabels: { 'kubernetes.io/metadata.name': RUNS_NAMESPACE },
        },
      });
    }
  });

  describe('against a real kube-apiserver with the manifests applied', () => {
    const ctx = useAdmissionInstance();

    it('admits the Job of every example agent, built by the real builder, its run Secret and its pods', async () => {
      const dirs = fs
        .readdirSync(path.join(REPO_ROOT, 'catalog/agents'))
        .filter(d =>
          fs.existsSync(
            path.join(REPO_ROOT, 'catalog/agents', d, 'catalog-info.yaml'),
          ),
        );
      expect(dirs.length).toBeGreaterThanOrEqual(8);
      const portalCore = ctx.asPortal.makeApiClient(CoreV1Api);
      const jobs: V1Job[] = [];
      for (const dir of [...dirs, 'every-grant']) {
        const body = dir === 'every-grant' ? fullJob() : jobOf(planOf(dir));
        const job = await ctx.createJob(ctx.asPortal, body);
        jobs.push(job);
        const usesRunSecret = JSON.stringify(body).includes(
          `${job.metadata!.name}-secrets`,
        );
        if (usesRunSecret) {
          // As the executor does: after the Job, owned by it.
          await portalCore.createNamespacedSecret({
            namespace: NS.runs,
            body: {
              metadata: {
                name: `${job.metadata!.name}-secrets`,
                ownerReferences: [
                  {
                    apiVersion: 'batch/v1',
                    kind: 'Job',
                    name: job.metadata!.name!,
                    uid: job.metadata!.uid!,
                    controller: true,
                  },
                ],
              },
              type: 'Opaque',
              stringData: { [EGRESS_CREDENTIAL_KEY]: 'credential' },
            },
          });
        }
      }
      expect(
        jobs.map(j => j.spec!.template.metadata!.labels![LABELS.egress]),
      ).toContain('allowed');
      expect(
        jobs.map(j => j.spec!.template.metadata!.labels![LABELS.platformApi]),
      ).toContain('allowed');
      // The Job controller's pods go through the same policies.
      for (const job of jobs) {
        await waitFor(
          async () =>
            (
              await ctx.core.listNamespacedPod({
                namespace: NS.runs,
                labelSelector: `job-name=${job.metadata!.name}`,
              })
            ).items.length > 0,
          `a pod of ${job.metadata!.name}`,
          60_000,
        );
      }
      // On cancel the run identity deletes the run Secret.
      const withSecret = jobs.find(j =>
        JSON.stringify(j).includes(EGRESS_CREDENTIAL_KEY),
      )!;
      await portalCore.deleteNamespacedSecret({
        name: `${withSecret.metadata!.name}-secrets`,
        namespace: NS.runs,
      });
    });

    it('refuses the Job of the issue, as the portal ServiceAccount (TokenRequest), and each of its parts alone', async () => {
      // The apiserver names the first policy that denies; any of those the Job violates.
      const any = (...rs: RegExp[]) =>
        new RegExp(rs.map(r => `(${r.source})`).join('|'));
      expect(
        await refused(ctx.createJob(ctx.asPortal, attackJob())),
      ).toMatchObject({
        code: 403,
        message: expect.stringMatching(
          any(
            refusal('images', 0),
            refusal('pod-secrets', 0),
            refusal('reserved-labels', 0),
            refusal('hardening', 0),
          ),
        ),
      });
      // Its parts, each on a Job the platform builds.
      const parts: Array<[(job: V1Job) => void, RegExp]> = [
        [
          j =>
            (agentOf(j).image =
              attackJob().spec!.template.spec!.containers[0].image!),
          refusal('images', 0),
        ],
        [
          j => {
            podOf(j).volumes!.push({
              name: 's',
              secret: { secretName: DEFAULT_PLATFORM_SECRET_NAME },
            });
            agentOf(j).volumeMounts!.push({ name: 's', mountPath: '/s' });
          },
          refusal('pod-secrets', 0),
        ],
        [
          j =>
            Object.assign(j.spec!.template.metadata!, {
              labels: attackJob().spec!.template.metadata!.labels,
              annotations: {},
            }),
          refusal('reserved-labels', 0),
        ],
      ];
      for (const [change, expected] of parts) {
        expect(
          await refused(ctx.createJob(ctx.asPortal, ctx.mutated(change))),
        ).toMatchObject({
          code: 403,
          message: expect.stringMatching(expected),
        });
      }
      // Nothing of it was created.
      const batch = ctx.cluster.kubeConfig.makeApiClient(BatchV1Api);
      await expect(
        batch.readNamespacedJob({ name: 'steal', namespace: NS.runs }),
      ).rejects.toMatchObject({ code: 404 });
    });

    it.each(FORBIDDEN)('refuses %s', async (_name, change, expected) => {
      const base = fullJob();
      await expect(
        ctx.createJob(ctx.asPortal, base, 'All'),
      ).resolves.toBeDefined();
      const job = fullJob();
      change(job);
      expect(
        await refused(ctx.createJob(ctx.asPortal, job, 'All')),
      ).toMatchObject({
        code: 403,
        message: expect.stringMatching(expected),
      });
    });
  });
});
