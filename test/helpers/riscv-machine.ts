// The RISC-V example machine (examples/riscv/main.js) as a child process, for its tests: run to
// the end, or started in the background (a migration target, or a run to act on mid-way).
import { execFile, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The machine's entry point. */
export const main = new URL('../../examples/riscv/main.js', import.meta.url).pathname;

/** Runs the machine with `args` to its end (killed after `timeout` ms): its status and output. */
export async function machine(args: string[], timeout = 120_000): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [main, ...args], { timeout, maxBuffer: 64 << 20 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

/** A TCP port on 127.0.0.1 free a moment ago (for a migration target to listen on). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * A machine run as a child process: `listening` once it waits for a migration (--incoming),
 * `seen(text)` once its console shows text, `done` when it ends (killed after `timeout`).
 */
export function startMachine(
  args: string[],
  timeout = 180_000,
): {
  child: ReturnType<typeof spawn>;
  listening: Promise<void>;
  seen: (text: string) => Promise<void>;
  done: Promise<{ code: number; out: string; err: string }>;
} {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let ended = false;
  const waiters: { text: string; resolve: () => void }[] = [];
  const poke = (): void => {
    for (const w of waiters.splice(0))
      if (ended || out.includes(w.text)) w.resolve();
      else waiters.push(w);
  };
  let ready: () => void = () => {};
  const listening = new Promise<void>((r) => (ready = r));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString('latin1');
    poke();
  });
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString('latin1');
    if (err.includes('waiting for a migration')) ready();
  });
  const done = new Promise<{ code: number; out: string; err: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      ended = true;
      ready();
      poke();
      resolve({ code: code ?? -1, out, err });
    }),
  );
  const seen = (text: string): Promise<void> =>
    new Promise((resolve) => {
      waiters.push({ text, resolve });
      poke();
    });
  return { child, listening, seen, done };
}
