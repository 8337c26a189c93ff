// Catalog Health Reporter: needs the `catalog` tool.
const { defineAgent } = require('@internal/agent-runtime');

function findProblems(entity) {
  const problems = [];
  if (!entity.metadata.description) problems.push('missing description');
  if (
    entity.spec &&
    'owner' in entity.spec === false &&
    ['Component', 'Agent', 'System', 'API', 'Resource'].includes(entity.kind)
  ) {
    problems.push('missing owner');
  }
  if (
    ['Component', 'Agent', 'API'].includes(entity.kind) &&
    !(entity.spec && entity.spec.lifecycle)
  ) {
    problems.push('missing lifecycle');
  }
  return problems;
}

module.exports = defineAgent({
  tools: ['catalog'],
  async handler(input, ctx) {
    const kinds = input.kinds ?? ['Component', 'Agent', 'System'];
    const entities = await ctx.tools.catalog.getEntities({
      filter: { kind: kinds },
    });
    ctx.log(
      `Checking ${entities.length} entities of kinds ${kinds.join(', ')}`,
    );
    const problems = [];
    for (const e of entities) {
      const found = findProblems(e);
      if (found.length) {
        problems.push({
          entity: `${e.kind.toLowerCase()}:${
            e.metadata.namespace ?? 'default'
          }/${e.metadata.name}`,
          problems: found,
        });
      }
    }
    return { checked: entities.length, problems };
  },
});
