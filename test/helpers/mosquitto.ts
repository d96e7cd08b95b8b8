/**
 * A private Mosquitto (Debian's /usr/sbin/mosquitto) on a free loopback port with its own config:
 * users from a password file made by mosquitto_passwd, no persistence. Stop and restart on the same
 * port make real broker outages. Also runs mosquitto_pub as an independent MQTT client.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalDaemon } from './daemon.js';
import { freePort } from './victoria.js';

export function mosquittoAvailable(): boolean {
  return ['mosquitto', 'mosquitto_passwd', 'mosquitto_pub'].every((bin) => spawnSync(bin, ['--help'], { stdio: 'ignore' }).error === undefined);
}

/** A self-signed certificate for 127.0.0.1 / localhost (openssl), for TLS listeners in tests. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

/**
 * A CA and a server certificate it signed for 127.0.0.1 / localhost (openssl), for a TLS listener
 * whose clients verify the broker against that CA (`central.ca`).
 */
export function caSignedCert(dir: string, name = 'server'): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ca = join(dir, `${name}-ca.pem`);
  const caKey = join(dir, `${name}-ca.key`);
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-days', '2', '-subj', `/CN=edge test CA ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', '-new', ...ec, '-keyout', key, '-out', csr, '-subj', '/CN=localhost']);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { ca, cert, key };
}

export interface MosquittoOptions {
  /** Adds a TLS listener on `tlsPort` with this server certificate and key. */
  tls?: { cert: string; key: string };
  /** An ACL file (acl_file); applies with users only. */
  aclFile?: string;
}

export class Mosquitto {
  private readonly daemon: LocalDaemon;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    /** The TLS listener's port, when there is one. */
    readonly tlsPort?: number,
  ) {
    this.daemon = new LocalDaemon({ name: 'mosquitto', port, command: 'mosquitto', args: ['-c', join(dir, 'mosquitto.conf')], stopSignal: 'SIGTERM' });
  }

  /** Users as name → password; none means anonymous clients are allowed. Users apply to every listener. */
  static async start(users: Record<string, string> = {}, opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const dir = mkdtempSync(join(tmpdir(), 'edge-mosquitto-'));
    const conf = [`listener ${await freePort()} 127.0.0.1`, 'persistence false', 'log_dest stderr', 'log_type error'];
    const tlsPort = opts.tls === undefined ? undefined : await freePort();
    if (opts.tls !== undefined) conf.push(`listener ${tlsPort} 127.0.0.1`, `certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`);
    // Started as root, mosquitto would switch to the mosquitto user, who cannot read our temp files.
    if (process.getuid?.() === 0) conf.push('user root');
    const names = Object.keys(users);
    if (names.length === 0) conf.push('allow_anonymous true');
    else {
      const file = join(dir, 'passwd');
      writeFileSync(file, '');
      for (const name of names) {
        const r = spawnSync('mosquitto_passwd', ['-b', file, name, users[name] as string], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
      }
      conf.push('allow_anonymous false', `password_file ${file}`);
      if (opts.aclFile !== undefined) conf.push(`acl_file ${opts.aclFile}`);
    }
    writeFileSync(join(dir, 'mosquitto.conf'), `${conf.join('\n')}\n`);
    const port = Number(/listener (\d+)/.exec(conf[0] as string)?.[1]);
    const m = new Mosquitto(port, dir, tlsPort);
    await m.restart();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port, and waits until it accepts connections. */
  async restart(): Promise<void> {
    await this.daemon.start();
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}


/** Publishes with mosquitto_pub (an MQTT client that is not ours). Resolves with its exit code and stderr. */
export function mosquittoPub(opts: { port: number; topic: string; message: string; username?: string; password?: string; cafile?: string; host?: string }): Promise<{ code: number | null; stderr: string }> {
  const args = ['-h', opts.host ?? '127.0.0.1', '-p', String(opts.port), '-t', opts.topic, '-m', opts.message, '-V', 'mqttv311', '-q', '1'];
  if (opts.username !== undefined) args.push('-u', opts.username);
  if (opts.password !== undefined) args.push('-P', opts.password);
  if (opts.cafile !== undefined) args.push('--cafile', opts.cafile);
  return new Promise((resolve) => {
    const child = spawn('mosquitto_pub', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}
