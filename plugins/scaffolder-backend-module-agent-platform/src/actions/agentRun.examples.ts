import { TemplateExample } from '@backstage/plugin-scaffolder-node';
import yaml from 'yaml';

/** Examples of agent:run. */
export const examples: TemplateExample[] = [
  {
    description: 'Summarize a text with the summarizer agent and wait for the result',
    example: yaml.stringify({
      steps: [
        {
          id: 'summarize',
          action: 'agent:run',
          name: 'Summarize',
          input: {
            agentRef: 'agent:default/summarizer',
            input: { text: '${{ parameters.text }}', sentences: 2 },
          },
        },
      ],
    }),
  },
  {
    description: 'Start a long run under a given plan without waiting',
    example: yaml.stringify({
      steps: [
        {
          id: 'count',
          action: 'agent:run',
          name: 'Count slowly',
          input: {
            agentRef: 'agent:default/slow-counter',
            plan: 'free',
            input: { steps: 5 },
            wait: false,
          },
        },
      ],
    }),
  },
];
