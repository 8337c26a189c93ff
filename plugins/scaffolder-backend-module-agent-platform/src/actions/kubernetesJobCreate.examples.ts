import { TemplateExample } from '@backstage/plugin-scaffolder-node';
import yaml from 'yaml';

/** Examples of kubernetes:job:create. */
export const examples: TemplateExample[] = [
  {
    description:
      'Build an agent image in-cluster with the platform rootless builder image (it must run as non-root with a read-only root filesystem) and wait for it',
    example: yaml.stringify({
      steps: [
        {
          id: 'build',
          action: 'kubernetes:job:create',
          name: 'Build agent image',
          input: {
            name: 'build-${{ parameters.name }}',
            image: 'registry.example.com/platform/agent-image-builder:1.0.0',
            args: [
              '--context=git://git.example.com/agents/${{ parameters.name }}.git',
              '--destination=registry.example.com/agents/${{ parameters.name }}:${{ parameters.version }}',
            ],
            cpu: '1',
            memory: '2Gi',
            timeoutSeconds: 1800,
            wait: true,
          },
        },
      ],
    }),
  },
  {
    description:
      'A one-off platform task in a namespace of its own (not agent-platform, kube-*, default or a runs namespace)',
    example: yaml.stringify({
      steps: [
        {
          id: 'migrate',
          action: 'kubernetes:job:create',
          name: 'Run a migration',
          input: {
            name: 'migrate-agent-registry',
            namespace: 'platform-tasks',
            image: 'registry.example.com/platform/migrator:2.0.0',
            args: ['--apply'],
          },
        },
      ],
    }),
  },
];
