/*
 * Test helpers: run the real runtime binary as a child process (the way the
 * platform's executors do) and collect its events.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { AddressInfo } from 'node:net';

const HERE = __dirname; // eslint-disable-line no-restricted-syntax
export const RUNTIME_BIN = path.resolve(HERE, '..', 'bin', 'agent-runtime.js');

export interface RuntimeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  events: Array<{ type: string; ts: string; [key: string]: any }>;
  /** Lines of stdout that are not runtime events (must stay empty). */
  strayLines: string[];
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  args?: string[];
  /** Called for every event as it arrives, with the child process. */
  onEvent?: (event: any, kill: (signal: NodeJS.Signals) => void) => void;
  timeoutMs?: number;
}

/** Spawns `node bin/agent-runtime.js run <agentDir> [...args]` in a scratch dir. */
export function runRuntime(
  agentDir: string,
  options: RunOptions = {},
): Promise<RuntimeRun> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-scratch-'));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('AGENT_')) env[k] = v;
  }
  env.AGENT_EXECUTION_ID = 'exec-test-1';
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [RUNTIME_BIN, 'run', agentDir, ...(options.args ?? [])],
      {
        cwd: scratch,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    let buffered = '';
    const events: RuntimeRun['events'] = [];
    const strayLines: string[] = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `runtime did not exit within ${
            options.timeoutMs ?? 20000
          }ms; stdout so far:\n${stdout}`,
        ),
      );
    }, options.timeoutMs ?? 20000);
    child.stdout.on('data', chunk => {
      stdout += chunk;
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.trim()) continue;
        let parsed: any;
        try {
          parsed = JSON.parse(line);
        } catch {
          strayLines.push(line);
          continue;
        }
        if (parsed.tag !== 'agentplatform.runtime/v1') {
          strayLines.push(line);
          continue;
        }
        events.push(parsed);
        options.onEvent?.(parsed, sig => child.kill(sig));
      }
    });
    child.stderr.on('data', chunk => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      fs.rmSync(scratch, { recursive: true, force: true });
      if (buffered.trim()) strayLines.push(buffered);
      resolve({ code, signal, stdout, stderr, events, strayLines });
    });
  });
}

/** Writes an agent folder with the given files into a temp dir. */
export function writeAgent(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-agent-'));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** A private secrets folder with one file per secret. */
export function writeSecrets(secrets: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-secrets-'));
  for (const [name, value] of Object.entries(secrets)) {
    fs.writeFileSync(path.join(dir, name), value, { mode: 0o600 });
  }
  return dir;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A tiny local HTTP server; `handle` answers each request. */
export async function startServer(
  handle: (req: RecordedRequest, res: http.ServerResponse) => void,
): Promise<{
  url: string;
  port: number;
  requests: RecordedRequest[];
  close: () => Promise<void>;
}> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', c => {
      body += c;
    });
    req.on('end', () => {
      const recorded = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body,
      };
      requests.push(recorded);
      handle(recorded, res);
    });
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise<void>(r => server.close(() => r())),
  };
}

export function eventsOf(run: RuntimeRun, type: string) {
  return run.events.filter(e => e.type === type);
}

export function lastEvent(run: RuntimeRun) {
  return run.events[run.events.length - 1];
}
