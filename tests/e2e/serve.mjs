// Starts `autoglm serve` on a free port and stops it (SIGTERM) after the tests.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export async function startServer(extraArgs = []) {
  const bin = process.env.AUTOGLM_BIN;
  const model = process.env.AUTOGLM_MODEL;
  if (!bin || !model) throw new Error('AUTOGLM_BIN and AUTOGLM_MODEL must be set (see run.sh)');
  const child = spawn(bin, ['serve', '-m', model, '--port', '0', '--threads', '1', '--http-threads', '16',
    '--chat-template', 'chatml', ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = [];
  const lines = createInterface({ input: child.stderr });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start:\n' + log.join('\n'))), 30000);
    let listening = 0;
    lines.on('line', (line) => {
      log.push(line);
      const m = line.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) listening = Number(m[1]);
      if (line.includes('ready: model')) {
        clearTimeout(timer);
        resolve(listening);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}):\n` + log.join('\n'))));
  });
  return {
    port,
    baseURL: `http://127.0.0.1:${port}/v1`,
    log,
    async stop() {
      const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}
