'use strict';
/*
 * The tools an agent can be granted. Each factory gets the run's settings and
 * returns the object the agent sees as `ctx.tools.<name>`.
 */
const { ToolDeniedError, ToolError } = require('./errors');
const { EgressRefusedError, createTransport } = require('./transport');

const KNOWN_TOOLS = ['http', 'llm', 'catalog'];
const MAX_REDIRECTS = 5;

/**
 * One request of a tool through the run's transport. A refusal of the
 * platform's egress proxy becomes the tool's ToolDeniedError (and a
 * `tool-denied` event), like a refusal of the runtime's own checks.
 */
async function send({ transport, denied }, tool, url, init) {
  try {
    return await transport.fetch(url, init);
  } catch (e) {
    if (e instanceof EgressRefusedError) {
      throw denied(tool, `${tool}: ${e.message}`);
    }
    throw e;
  }
}

/** Is `host` (a URL's hostname, or host:port) allowed by the list? Exact host or `*.suffix`. */
function isHostAllowed(url, allowHosts) {
  const hostname = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const host = url.host.toLowerCase();
  return (allowHosts || []).some(entry => {
    const e = String(entry).toLowerCase().trim();
    if (!e) return false;
    if (e.startsWith('*.')) {
      const suffix = e.slice(1); // ".example.com"
      return hostname.endsWith(suffix) && hostname.length > suffix.length;
    }
    return e === hostname || e === host;
  });
}

function createHttpTool({ grant, denied, transport }) {
  const allowHosts = grant.allowHosts || [];
  function check(rawUrl) {
    let url;
    try {
      url = new URL(String(rawUrl));
    } catch {
      throw new ToolError('http', `http: not a valid absolute URL: ${rawUrl}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw denied(
        'http',
        `http: only http and https URLs are allowed, not ${url.protocol}`,
      );
    }
    if (!isHostAllowed(url, allowHosts)) {
      throw denied(
        'http',
        `http: host "${url.host}" is not in the allow-list of this run (${
          allowHosts.length ? allowHosts.join(', ') : 'empty'
        })`,
      );
    }
    return url;
  }

  return Object.freeze({
    /** The allow-list of this run. */
    allowHosts: Object.freeze([...allowHosts]),
    /**
     * `fetch` restricted to the allow-list; redirects are followed by hand so
     * that every hop is checked too.
     */
    async fetch(input, init = {}) {
      let url = check(
        typeof input === 'object' && input && 'url' in input
          ? input.url
          : input,
      );
      let opts = { ...init, redirect: 'manual' };
      for (let hop = 0; ; hop++) {
        const res = await send({ transport, denied }, 'http', url, opts);
        const location = res.headers.get('location');
        if (
          res.status >= 300 &&
          res.status < 400 &&
          location &&
          init.redirect !== 'manual'
        ) {
          if (hop >= MAX_REDIRECTS) {
            throw new ToolError(
              'http',
              `http: more than ${MAX_REDIRECTS} redirects from ${url}`,
            );
          }
          url = check(new URL(location, url).toString());
          if (
            res.status === 303 ||
            ((res.status === 301 || res.status === 302) &&
              opts.method &&
              opts.method !== 'GET' &&
              opts.method !== 'HEAD')
          ) {
            opts = { ...opts, method: 'GET', body: undefined };
          }
          continue;
        }
        return res;
      }
    },
    /** GET a URL and parse its JSON body; throws on a non-2xx status. */
    async getJson(url, init = {}) {
      const res = await this.fetch(url, init);
      if (!res.ok)
        throw new ToolError('http', `http: GET ${url} answered ${res.status}`);
      return res.json();
    },
  });
}

function trimSlash(s) {
  return String(s).replace(/\/+$/, '');
}

async function errorBody(res) {
  try {
    const text = await res.text();
    return text.length > 300 ? `${text.slice(0, 300)}...` : text;
  } catch {
    return '';
  }
}

function createLlmTool({ env, secrets, signal, denied, transport }) {
  const baseUrl = env.AGENT_LLM_BASE_URL;
  const defaultModel = env.AGENT_LLM_MODEL;
  async function chat(request = {}) {
    if (!baseUrl) {
      throw new ToolError(
        'llm',
        'llm: no model endpoint is configured for this run (AGENT_LLM_BASE_URL is not set)',
      );
    }
    const { apiKey, messages, model, temperature, maxTokens, ...rest } =
      request;
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new ToolError(
        'llm',
        'llm: messages must be a non-empty array of { role, content }',
      );
    }
    const key =
      apiKey ?? secrets.get('LLM_API_KEY') ?? secrets.get('OPENAI_API_KEY');
    const body = {
      ...rest,
      model: model ?? defaultModel,
      messages,
      ...(temperature !== undefined ? { temperature } : {}),
      ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
    };
    const res = await send(
      { transport, denied },
      'llm',
      `${trimSlash(baseUrl)}/chat/completions`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
        body: JSON.stringify(body),
        signal,
      },
    );
    if (!res.ok) {
      throw new ToolError(
        'llm',
        `llm: the model endpoint answered ${res.status}: ${await errorBody(
          res,
        )}`,
      );
    }
    return res.json();
  }
  return Object.freeze({
    model: defaultModel,
    /** The raw OpenAI-compatible `/chat/completions` call. */
    chat,
    /** One completion; returns the first choice's message content. */
    async complete(request) {
      const json = await chat(request);
      const content =
        json && json.choices && json.choices[0] && json.choices[0].message
          ? json.choices[0].message.content
          : undefined;
      if (typeof content !== 'string') {
        throw new ToolError(
          'llm',
          'llm: the model endpoint answered without choices[0].message.content',
        );
      }
      return content;
    },
  });
}

function createCatalogTool({ env, signal, denied, transport }) {
  const baseUrl = env.AGENT_CATALOG_BASE_URL;
  const token = env.AGENT_CATALOG_TOKEN;
  async function get(pathAndQuery) {
    if (!baseUrl) {
      throw new ToolError(
        'catalog',
        'catalog: no catalog is configured for this run (AGENT_CATALOG_BASE_URL is not set)',
      );
    }
    // Through the egress proxy, AGENT_CATALOG_BASE_URL is its platform route
    // (http://catalog.platform.internal) and the proxy adds the token.
    return send(
      { transport, denied },
      'catalog',
      `${trimSlash(baseUrl)}${pathAndQuery}`,
      {
        headers: {
          accept: 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        signal,
      },
    );
  }
  function filterParams(filter) {
    // { kind: ['Component', 'Agent'], 'spec.lifecycle': 'production' } ->
    // filter=kind=Component,spec.lifecycle=production&filter=kind=Agent,...
    // (sets are ORed by separate `filter` params, keys ANDed within one).
    let filters = [];
    if (Array.isArray(filter)) filters = filter;
    else if (filter) filters = [filter];
    const params = [];
    for (const f of filters) {
      let combos = [[]];
      for (const [key, value] of Object.entries(f)) {
        const values = Array.isArray(value) ? value : [value];
        const next = [];
        for (const c of combos) {
          for (const v of values)
            next.push([
              ...c,
              v === true || v === undefined ? key : `${key}=${v}`,
            ]);
        }
        combos = next;
      }
      for (const c of combos)
        if (c.length) params.push(['filter', c.join(',')]);
    }
    return params;
  }
  return Object.freeze({
    /** Entities matching the filter (all pages), e.g. `{ filter: { kind: ['Component', 'Agent'] } }`. */
    async getEntities(request = {}) {
      const { filter, fields, limit } = request;
      const items = [];
      let cursor;
      for (;;) {
        const q = new URLSearchParams();
        if (cursor) {
          q.append('cursor', cursor);
        } else {
          for (const [k, v] of filterParams(filter)) q.append(k, v);
          if (fields) q.append('fields', [].concat(fields).join(','));
        }
        q.append('limit', String(Math.min(limit ?? 500, 500)));
        const res = await get(`/entities/by-query?${q}`);
        if (!res.ok) {
          throw new ToolError(
            'catalog',
            `catalog: GET /entities/by-query answered ${
              res.status
            }: ${await errorBody(res)}`,
          );
        }
        const page = await res.json();
        items.push(...(page.items || []));
        cursor = page.pageInfo && page.pageInfo.nextCursor;
        if (!cursor || (limit !== undefined && items.length >= limit)) break;
      }
      return limit !== undefined ? items.slice(0, limit) : items;
    },
    /** One entity by reference (`kind:namespace/name`), or undefined. */
    async getEntityByRef(ref) {
      const m = /^([^:/]+):(?:([^/]+)\/)?(.+)$/.exec(String(ref));
      if (!m)
        throw new ToolError(
          'catalog',
          `catalog: not an entity reference: ${ref}`,
        );
      const [, kind, namespace = 'default', name] = m;
      const res = await get(
        `/entities/by-name/${encodeURIComponent(kind)}/${encodeURIComponent(
          namespace,
        )}/${encodeURIComponent(name)}`,
      );
      if (res.status === 404) return undefined;
      if (!res.ok)
        throw new ToolError(
          'catalog',
          `catalog: GET entity ${ref} answered ${res.status}: ${await errorBody(
            res,
          )}`,
        );
      return res.json();
    },
  });
}

const FACTORIES = {
  http: createHttpTool,
  llm: createLlmTool,
  catalog: createCatalogTool,
};

/**
 * `ctx.tools`: a Proxy exposing only the granted tools. Touching any other
 * name records a `tool-denied` event and throws, so a missing grant fails
 * loudly at the line that needs it.
 */
function createToolsProxy({ grants, env, secrets, signal, onDenied }) {
  const denied = (tool, message) => {
    onDenied(tool, message);
    return new ToolDeniedError(tool, message);
  };
  const transport = createTransport(env);
  const tools = {};
  for (const grant of grants) {
    const factory = FACTORIES[grant.name];
    if (factory)
      tools[grant.name] = factory({
        grant,
        env,
        secrets,
        signal,
        denied,
        transport,
      });
  }
  // Names probed by `await`, util.inspect, JSON.stringify and test runners: not tool accesses.
  const passthrough = new Set([
    'then',
    'toJSON',
    'constructor',
    'asymmetricMatch',
    '$$typeof',
    'nodeType',
    'inspect',
  ]);
  return new Proxy(tools, {
    get(target, prop) {
      if (typeof prop === 'symbol' || passthrough.has(prop)) return undefined;
      if (Object.prototype.hasOwnProperty.call(target, prop))
        return target[prop];
      const granted = Object.keys(target);
      const known = KNOWN_TOOLS.includes(prop);
      throw denied(
        prop,
        `tool "${prop}" ${
          known ? 'was not granted to this run' : 'does not exist'
        } (granted: ${granted.length ? granted.join(', ') : 'none'})`,
      );
    },
    has(target, prop) {
      return Object.prototype.hasOwnProperty.call(target, prop);
    },
    set() {
      return false;
    },
    defineProperty() {
      return false;
    },
    deleteProperty() {
      return false;
    },
  });
}

module.exports = { createToolsProxy, isHostAllowed, KNOWN_TOOLS };
