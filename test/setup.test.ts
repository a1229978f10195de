// scripts/setup.sh and scripts/apt-install.sh: packages install without starting or
// enabling their services (a system mosquitto would hold the gateway's port 1883),
// and setting up a fresh clone changes nothing git tracks.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freshCopy, REPO_ROOT } from './support/fresh-copy.js';

const run = promisify(execFile);

describe('apt-install.sh', () => {
  it('holds services back while apt-get installs, puts the old policy back, disables the units', async () => {
    // apt-get, dpkg-query and systemctl stand-ins: a maintainer script asks policy-rc.d
    // before starting a service, exactly as invoke-rc.d and deb-systemd-invoke do
    const dir = await mkdtemp(join(tmpdir(), 'sentinel-apt-'));
    try {
      const policy = join(dir, 'policy-rc.d');
      const before = '#!/bin/sh\n# the machine’s own policy\nexit 0\n';
      await writeFile(policy, before, { mode: 0o755 });
      const log = join(dir, 'calls.log');
      const stub = async (name: string, body: string) => {
        await writeFile(join(dir, name), `#!/bin/sh\n${body}\n`);
        await chmod(join(dir, name), 0o755);
      };
      await stub(
        'apt-get',
        `case " $* " in *" install "*) "${policy}" mosquitto.service start; echo "start during install: $?" >>"${log}";; esac`,
      );
      await stub(
        'dpkg-query',
        'echo /lib/systemd/system/mosquitto.service; echo /etc/mosquitto/mosquitto.conf',
      );
      await stub('systemctl', `echo "systemctl $*" >>"${log}"`);
      await run('bash', [join(REPO_ROOT, 'scripts/apt-install.sh'), 'mosquitto'], {
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, SENTINEL_POLICY_RC_D: policy },
      });
      const calls = (await readFile(log, 'utf8')).trim().split('\n');
      expect(calls[0]).toBe('start during install: 101');
      expect(calls[1]).toMatch(/^systemctl disable (--now )?--quiet mosquitto\.service$/);
      expect(await readFile(policy, 'utf8')).toBe(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves no mosquitto or nats-server service enabled on a systemd machine', async (context) => {
    const systemd = await run('test', ['-d', '/run/systemd/system']).then(
      () => true,
      () => false,
    );
    if (!systemd) {
      context.skip('systemd is not running here: no system service could start');
      return;
    }
    for (const unit of ['mosquitto.service', 'nats-server.service']) {
      const state = await run('systemctl', ['is-enabled', unit]).then(
        (r) => r.stdout.trim(),
        (e: { stdout?: string }) => (e.stdout ?? '').trim(),
      );
      expect(['disabled', 'masked', 'not-found', ''], `${unit} is ${state}`).toContain(state);
    }
  });
});

describe('setup.sh in a fresh clone', () => {
  it('installs with npm ci from the lock and leaves git status clean', async (context) => {
    const copy = await freshCopy({ nodeModules: 'none', git: true });
    try {
      const setup = await run('bash', ['scripts/setup.sh'], {
        cwd: copy.dir,
        // from npm's cache only: no registry traffic in tests
        env: { ...process.env, npm_config_offline: 'true' },
        maxBuffer: 64 * 1024 * 1024,
      }).catch((error: { stderr?: string }) => ({ failed: error.stderr ?? String(error) }));
      if ('failed' in setup) {
        if (/ENOTCACHED/.test(setup.failed)) {
          context.skip(`npm's cache cannot install this lock offline: ${setup.failed.slice(0, 300)}`);
          return;
        }
        throw new Error(`setup.sh failed:\n${setup.failed}`);
      }
      const status = await run('git', ['status', '--porcelain'], { cwd: copy.dir });
      expect(status.stdout).toBe('');
    } finally {
      await copy.remove();
    }
  }, 240_000);
});
