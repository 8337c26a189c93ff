import { listSchemaFields } from './schemaFields';

describe('listSchemaFields', () => {
  it('flattens properties with required flags and constraints', () => {
    const fields = listSchemaFields({
      type: 'object',
      required: ['text'],
      properties: {
        text: { type: 'string', title: 'Text', minLength: 1 },
        sentences: { type: 'integer', minimum: 1, maximum: 20, default: 3 },
        format: { type: 'string', enum: ['csv', 'json'] },
        options: {
          type: 'object',
          properties: { depth: { type: 'integer' } },
        },
        tags: { type: 'array', items: { type: 'string' } },
      },
    });
    expect(fields.map(f => f.path)).toEqual([
      'text',
      'sentences',
      'format',
      'options',
      'options.depth',
      'tags',
    ]);
    expect(fields[0]).toMatchObject({ required: true, type: 'string', constraints: ['min length 1'] });
    expect(fields[1].constraints).toEqual(['≥ 1', '≤ 20', 'default 3']);
    expect(fields[2].constraints).toEqual(['one of "csv", "json"']);
    expect(fields[5].type).toBe('array of string');
  });
});
