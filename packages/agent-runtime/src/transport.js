'use strict';
/*
 * How the tools reach the network. Without AGENT_EGRESS_PROXY: the global
 * fetch, directly. With it (a sandboxed local run, a pod granted `http`):
 * every request goes to the platform's egress proxy as an absolute-form
 * request (`GET https://host/path`, the proxy makes the TLS connection)
 * carrying the run's credential, over a Unix socket (`unix:/abs/path.sock`)
 * or TCP (`http://host:port`). The answer is wrapped as a WHATWG Response, so
 * tools and agents see the same object either way.
 */
const http = require('node:http');
const path = require('node:path');
const zlib = require('node:zlib');
const { Readable } = require('node:stream');

/** Set by the proxy on its refusals (400, 403, 407); the value is the reason. */
const REFUSED_HEADER = 'x-agentplatform-egress-refused';
/** Set by the proxy when it could not reach an allowed destination (502, 504). */
const ERROR_HEADER = 'x-agentplatform-egress-error';
const MAX_REDIRECTS = 20;
const MAX_MESSAGE_CHARS = 500;

/** The egress proxy refused a request; `reason` is its reason code (`host-not-allowed`, ...). */
class EgressRefusedError extends Error {
  constructor(reason, message, status) {
    super(message);
    this.name = 'EgressRefusedError';
    this.reason = reason;
    this.status = status;
  }
}

/** `{ socketPath }` or `{ host, port }` of an AGENT_EGRESS_PROXY value; throws a sentence when malformed. */
function parseProxyAddress(value) {
  const text = String(value).trim();
  if (text.startsWith('unix:')) {
    const socketPath = text.slice('unix:'.length);
    if (!path.isAbsolute(socketPath)) {
      throw new Error(
        `AGENT_EGRESS_PROXY: the socket path must be absolute, not "${socketPath}"`,
      );
    }
    return { socketPath };
  }
  let url;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== 'http:' || !url.hostname) {
    throw new Error(
      `AGENT_EGRESS_PROXY must be unix:/absolute/path.sock or http://host:port, not "${text}"`,
    );
  }
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port) || 80,
  };
}

function abortReason(signal) {
  return signal.reason !== undefined
    ? signal.reason
    : new DOMException('This operation was aborted', 'AbortError');
}

function fetchFailed(message, code) {
  const cause = new Error(message);
  if (code) cause.code = code;
  return new TypeError('fetch failed', { cause });
}

/** Sends one request to the proxy; resolves with its response head (the body still streaming). */
function send(address, credential, { url, method, headers, body, signal }) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const head = { host: url.host };
    for (const [name, value] of headers) head[name] = value;
    if (credential) head['proxy-authorization'] = `Bearer ${credential}`;
    if (body) head['content-length'] = String(body.length);
    else delete head['content-length'];
    const req = http.request({
      ...address,
      method,
      path: url.href,
      headers: head,
      setHost: false,
      agent: false,
    });
    let response;
    const onAbort = () => {
      const reason = abortReason(signal);
      // Before the head: the fetch rejects; after: reading the body does.
      if (response) response.destroy(reason);
      else reject(reason);
      req.destroy();
    };
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      if (signal) signal.removeEventListener('abort', onAbort);
    };
    req.on('response', res => {
      response = res;
      res.once('close', cleanup);
      resolve(res);
    });
    req.on('error', error => {
      cleanup();
      reject(
        fetchFailed(
          `the egress proxy could not be reached: ${error.message}`,
          error.code,
        ),
      );
    });
    req.end(body);
  });
}

/** The body stream with its content-encoding undone, as fetch does. */
function decoded(res) {
  const encoding = String(res.headers['content-encoding'] || '')
    .trim()
    .toLowerCase();
  let decoder;
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    decoder = zlib.createGunzip({
      flush: zlib.constants.Z_SYNC_FLUSH,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
  } else if (encoding === 'deflate') decoder = zlib.createInflate();
  else if (encoding === 'br') decoder = zlib.createBrotliDecompress();
  if (!decoder) return res;
  res.on('error', error => decoder.destroy(error));
  return res.pipe(decoder);
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** Wraps a response head as a WHATWG Response whose body streams from it. */
function toResponse(res, url, method) {
  const status = res.statusCode;
  if (!(status >= 200 && status <= 599)) {
    res.destroy();
    throw fetchFailed(`invalid response status ${status}`);
  }
  const headers = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    try {
      headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
    } catch {
      // a header value Headers refuses: left out, as fetch would not expose it either
    }
  }
  const nullBody = method === 'HEAD' || NULL_BODY_STATUSES.has(status);
  if (nullBody) res.resume();
  const response = new Response(
    nullBody ? null : Readable.toWeb(decoded(res)),
    {
      status,
      statusText: res.statusMessage,
      headers,
    },
  );
  Object.defineProperty(response, 'url', { value: url.href });
  return response;
}

async function readText(res) {
  const chunks = [];
  for await (const chunk of res) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  return text.length > MAX_MESSAGE_CHARS
    ? `${text.slice(0, MAX_MESSAGE_CHARS)}...`
    : text;
}

/**
 * fetch through the proxy. Request bodies are read whole before sending (so
 * a redirect can resend them); response bodies stream. Proxy refusals throw
 * an EgressRefusedError; destinations the proxy could not reach throw
 * TypeError('fetch failed') like a direct fetch.
 */
async function proxyFetch(address, credential, input, init = {}) {
  const request = new Request(input, init);
  // Follows init.signal, or the signal of a Request given as input.
  const signal = request.signal;
  const mode = request.redirect;
  let url = new URL(request.url);
  let method = request.method;
  let headers = new Headers(request.headers);
  // What fetch sends when the caller does not (some APIs refuse a request without a user agent).
  if (!headers.has('accept')) headers.set('accept', '*/*');
  if (!headers.has('user-agent')) headers.set('user-agent', 'node');
  let body = request.body
    ? Buffer.from(await request.arrayBuffer())
    : undefined;
  for (let hop = 0; ; hop++) {
    const res = await send(address, credential, {
      url,
      method,
      headers,
      body,
      signal,
    });
    const refused = res.headers[REFUSED_HEADER];
    if (refused) {
      const text = await readText(res);
      throw new EgressRefusedError(
        String(refused),
        text || `egress proxy refused the request (${refused})`,
        res.statusCode,
      );
    }
    const failed = res.headers[ERROR_HEADER];
    if (failed) {
      throw fetchFailed(
        (await readText(res)) || `egress proxy: ${failed}`,
        String(failed),
      );
    }
    const location = res.headers.location;
    const isRedirect = [301, 302, 303, 307, 308].includes(res.statusCode);
    if (!isRedirect || !location || mode === 'manual') {
      return toResponse(res, url, method);
    }
    res.resume();
    if (mode === 'error') {
      throw fetchFailed(`unexpected redirect from ${url.href}`);
    }
    if (hop >= MAX_REDIRECTS) {
      throw fetchFailed(
        `more than ${MAX_REDIRECTS} redirects from ${url.href}`,
      );
    }
    const next = new URL(location, url);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw fetchFailed(`redirect to a ${next.protocol} URL`);
    }
    if (
      res.statusCode === 303 ||
      ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')
    ) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
      headers = new Headers(headers);
      for (const h of [
        'content-type',
        'content-length',
        'content-encoding',
        'content-language',
        'content-location',
      ]) {
        headers.delete(h);
      }
    }
    if (next.origin !== url.origin) {
      headers = new Headers(headers);
      headers.delete('authorization');
      headers.delete('cookie');
    }
    url = next;
  }
}

/**
 * The transport of one run: `{ viaProxy, fetch(input, init) }`, configured by
 * AGENT_EGRESS_PROXY and AGENT_EGRESS_CREDENTIAL.
 */
function createTransport(env = process.env) {
  if (!env.AGENT_EGRESS_PROXY) {
    return Object.freeze({
      viaProxy: false,
      fetch: (input, init) => fetch(input, init),
    });
  }
  let address;
  let configError;
  try {
    address = parseProxyAddress(env.AGENT_EGRESS_PROXY);
  } catch (e) {
    configError = e;
  }
  const credential = env.AGENT_EGRESS_CREDENTIAL || undefined;
  return Object.freeze({
    viaProxy: true,
    async fetch(input, init) {
      if (configError) throw fetchFailed(configError.message);
      return proxyFetch(address, credential, input, init);
    },
  });
}

module.exports = {
  createTransport,
  parseProxyAddress,
  EgressRefusedError,
  REFUSED_HEADER,
  ERROR_HEADER,
};
