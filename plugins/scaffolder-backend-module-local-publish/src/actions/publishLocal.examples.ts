import { TemplateExample } from '@backstage/plugin-scaffolder-node';
import yaml from 'yaml';

/** Examples of `publish:local`, shown in the scaffolder's action docs. */
export const examples: TemplateExample[] = [
  {
    description:
      'Publish the generated agent into the local agents folder and register it',
    example: yaml.stringify({
      steps: [
        {
          id: 'publish',
          action: 'publish:local',
          name: 'Publish locally',
          input: { name: '${{ parameters.name }}' },
        },
      ],
    }),
  },
  {
    description: 'Publish a sub-folder of the workspace without registering it',
    example: yaml.stringify({
      steps: [
        {
          id: 'publish',
          action: 'publish:local',
          name: 'Publish locally',
          input: { name: 'my-repo', sourcePath: 'repo', register: false },
        },
      ],
    }),
  },
];
