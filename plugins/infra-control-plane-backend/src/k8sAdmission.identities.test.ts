import {
  DEFAULT_PLATFORM_SECRET_NAME,
  renderAdmissionValues,
} from '@internal/plugin-infra-control-plane-node';
import {
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
} from '@kubernetes/client-node';
import { makePlan, waitFor } from './__testUtils__';
import {
  agentOf,
  fullJob,
  jobOf,
  NS,
  objects,
  refusal,
  refused,
  useAdmissionInstance,
} from './__testUtils__/admission';
import { serverSideApply } from './__testUtils__/manifests';

jest.setTimeout(180_000);

describe('the runs namespace admission policies: identities and Secrets (k8s/15-runs-admission.yaml, 10-portal-rbac.yaml)', () => {
  describe('against a real kube-apiserver with the manifests applied', () => {
    const ctx = useAdmissionInstance();

    it('refuses Jobs from anyone but the run identity, and pods not made by the Job controller', async () => {
      expect(
        await refused(ctx.createJob(ctx.cluster.kubeConfig, fullJob(), 'All')),
      ).toMatchObject({
        code: 403,
        message: expect.stringMatching(refusal('identity', 0)),
      });
      // A pod as the Job controller would make it for a run without grants, but made by an administrator.
      const job = jobOf(makePlan());
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'bare',
          namespace: NS.runs,
          ...job.spec!.template.metadata,
        },
        spec: job.spec!.template.spec,
      };
      expect(
        await refused(
          ctx.core.createNamespacedPod({
            namespace: NS.runs,
            body: pod as any,
            dryRun: 'All',
          }),
        ),
      ).toMatchObject({
        code: 403,
        message: expect.stringMatching(refusal('identity', 1)),
      });
    });

    it('pins images by digest when rendered with requireDigest', async () => {
      const images = objects.find(
        o =>
          o.kind === 'ValidatingAdmissionPolicy' &&
          o.metadata!.name!.startsWith('agent-platform-runs-images'),
      )!;
      const withDigest = (requireDigest: boolean) => ({
        ...images,
        spec: {
          ...images.spec,
          variables: images.spec.variables.map((v: any) =>
            v.name === 'requireDigest'
              ? {
                  ...v,
                  expression: renderAdmissionValues({ requireDigest })
                    .requireDigest,
                }
              : v,
          ),
        },
      });
      const pinned = fullJob();
      agentOf(
        pinned,
      ).image = `registry.example.com/agents/summarizer@sha256:${'a'.repeat(
        64,
      )}`;
      await serverSideApply(ctx.cluster.kubeConfig, withDigest(true));
      try {
        await waitFor(
          async () =>
            refusal('images', 1).test(
              String(
                (
                  await refused(ctx.createJob(ctx.asPortal, fullJob(), 'All'))
                ).message,
              ),
            ),
          'the tag to be refused',
          30_000,
        );
        await expect(
          ctx.createJob(ctx.asPortal, pinned, 'All'),
        ).resolves.toBeDefined();
      } finally {
        await serverSideApply(ctx.cluster.kubeConfig, withDigest(false));
      }
      await waitFor(
        () =>
          ctx.createJob(ctx.asPortal, fullJob(), 'All').then(
            () => true,
            () => false,
          ),
        'tags to be admitted again',
        30_000,
      );
    });

    it('lets the run identity create and delete only run Secrets, owned by their Job', async () => {
      const portalCore = ctx.asPortal.makeApiClient(CoreV1Api);
      const create = (kc: KubeConfig, body: any) =>
        kc
          .makeApiClient(CoreV1Api)
          .createNamespacedSecret({ namespace: NS.runs, body, dryRun: 'All' });
      const owner = [
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          name: 'run-x',
          uid: '00000000-0000-0000-0000-000000000001',
          controller: true,
        },
      ];
      await expect(
        create(ctx.asPortal, {
          metadata: { name: 'run-x-secrets', ownerReferences: owner },
        }),
      ).resolves.toBeDefined();
      for (const name of [
        'stolen',
        DEFAULT_PLATFORM_SECRET_NAME,
        'run-x-secrets-copy',
      ]) {
        expect(
          await refused(
            create(ctx.asPortal, {
              metadata: { name, ownerReferences: owner },
            }),
          ),
        ).toMatchObject({
          code: 403,
          message: expect.stringMatching(refusal('secret-creation', 0)),
        });
      }
      expect(
        await refused(
          create(ctx.cluster.kubeConfig, { metadata: { name: 'stolen' } }),
        ),
      ).toMatchObject({
        code: 403,
        message: expect.stringMatching(refusal('secret-creation', 0)),
      });
      expect(
        await refused(
          create(ctx.asPortal, { metadata: { name: 'run-x-secrets' } }),
        ),
      ).toMatchObject({
        message: expect.stringMatching(refusal('secret-creation', 1)),
      });
      expect(
        await refused(
          create(ctx.asPortal, {
            metadata: { name: 'run-y-secrets', ownerReferences: owner },
          }),
        ),
      ).toMatchObject({
        message: expect.stringMatching(refusal('secret-creation', 1)),
      });
      expect(
        await refused(
          create(ctx.asPortal, {
            metadata: { name: 'run-x-secrets', ownerReferences: owner },
            type: 'kubernetes.io/basic-auth',
            stringData: { username: 'u' },
          }),
        ),
      ).toMatchObject({
        message: expect.stringMatching(refusal('secret-creation', 1)),
      });
      // Deleting the platform Secret: refused, even for an administrator.
      for (const kc of [ctx.asPortal, ctx.cluster.kubeConfig]) {
        expect(
          await refused(
            kc.makeApiClient(CoreV1Api).deleteNamespacedSecret({
              name: DEFAULT_PLATFORM_SECRET_NAME,
              namespace: NS.runs,
              dryRun: 'All',
            }),
          ),
        ).toMatchObject({
          code: 403,
          message: expect.stringMatching(refusal('secret-deletion', 0)),
        });
      }
      await expect(
        portalCore.readNamespacedSecret({
          name: DEFAULT_PLATFORM_SECRET_NAME,
          namespace: NS.runs,
        }),
      ).rejects.toMatchObject({ code: 403 });
    });

    /** What `kc` may create in `namespace`, from the apiserver's own rules review (self-review resources aside). */
    async function creatable(
      kc: KubeConfig,
      namespace: string,
    ): Promise<string[]> {
      const review = await kc
        .makeApiClient(AuthorizationV1Api)
        .createSelfSubjectRulesReview({ body: { spec: { namespace } } });
      expect(review.status!.incomplete).toBe(false);
      return review
        .status!.resourceRules.filter(
          r => r.verbs.includes('create') || r.verbs.includes('*'),
        )
        .flatMap(r =>
          (r.resources ?? []).map(res => `${(r.apiGroups ?? [''])[0]}/${res}`),
        )
        .filter(
          r =>
            !/^authorization\.k8s\.io\/selfsubject|^authentication\.k8s\.io\/selfsubjectreviews/.test(
              r,
            ),
        )
        .sort();
    }

    it('keeps the identities apart: tasks only in the tasks namespace, runs only in the runs namespace', async () => {
      expect(await creatable(ctx.asTasks, NS.runs)).toEqual([]);
      expect(await creatable(ctx.asTasks, NS.tasks)).toEqual(['batch/jobs']);
      expect(await creatable(ctx.asPortal, NS.runs)).toEqual([
        '/secrets',
        'batch/jobs',
      ]);
      for (const ns of [NS.tasks, NS.portal, 'default'])
        expect(await creatable(ctx.asPortal, ns)).toEqual([]);
      for (const ns of [NS.portal, 'default'])
        expect(await creatable(ctx.asTasks, ns)).toEqual([]);
      // And for real: the task identity's Job is refused in the runs namespace (RBAC), admitted in its own.
      const taskJob = fullJob();
      await expect(
        ctx.createJob(ctx.asTasks, taskJob, 'All'),
      ).rejects.toMatchObject({
        code: 403,
      });
      await expect(
        ctx.createJob(
          ctx.asTasks,
          {
            ...taskJob,
            metadata: { ...taskJob.metadata, namespace: NS.tasks },
          },
          'All',
        ),
      ).resolves.toBeDefined();
      await expect(
        ctx.createJob(
          ctx.asPortal,
          {
            ...taskJob,
            metadata: { ...taskJob.metadata, namespace: NS.tasks },
          },
          'All',
        ),
      ).rejects.toMatchObject({ code: 403 });
      await expect(
        ctx.asTasks.makeApiClient(CoreV1Api).createNamespacedSecret({
          namespace: NS.runs,
          body: { metadata: { name: 'run-x-secrets' } },
          dryRun: 'All',
        }),
      ).rejects.toMatchObject({ code: 403 });
    });
  });
});
