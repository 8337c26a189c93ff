import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { createRouter } from './router';

describe('openapi.yaml', () => {
  it('documents every route of the router, and no route that does not exist', async () => {
    const spec = parse(
      fs.readFileSync(path.resolve(__dirname, '../openapi.yaml'), 'utf8'),
    );
    const router = await createRouter({
      executions: {} as any,
      httpAuth: {} as any,
      layers: {} as any,
      logger: {} as any,
    });
    const routes = (router.stack as any[])
      .filter(layer => layer.route)
      .flatMap(layer =>
        Object.keys(layer.route.methods).map(
          method => `${method} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`,
        ),
      )
      .sort();
    const documented = Object.entries(spec.paths as Record<string, any>)
      .flatMap(([p, item]) =>
        Object.keys(item)
          .filter(k => ['get', 'post', 'put', 'delete', 'patch'].includes(k))
          .map(method => `${method} ${p}`),
      )
      .sort();
    expect(routes.length).toBeGreaterThan(10);
    expect(documented).toEqual(routes);
  });
});
