/**
 * Test PKI made with the `openssl` command line: CAs, and node certificates signed by them
 * (EC P-256, SAN IP:127.0.0.1 and DNS:localhost, valid for server and client auth), in a temp dir
 * under os.tmpdir() that `cleanup()` removes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertFiles {
  ca: string;
  cert: string;
  key: string;
}

export class TestPki {
  private constructor(readonly dir: string) {}

  static async create(): Promise<TestPki> {
    return new TestPki(await mkdtemp(join(os.tmpdir(), 'engram-pki-')));
  }

  /** A self-signed CA; returns the path of its certificate (its key sits beside it). */
  async ca(name: string): Promise<string> {
    const key = join(this.dir, `${name}-key.pem`);
    const cert = join(this.dir, `${name}.pem`);
    await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    await run('openssl', [
      'req', '-x509', '-new', '-key', key, '-sha256', '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', cert,
    ]);
    return cert;
  }

  /** A certificate for `name` signed by the CA at `caCert` (made by ca()). */
  async leaf(caCert: string, name: string): Promise<CertFiles> {
    const caKey = caCert.replace(/\.pem$/, '-key.pem');
    const key = join(this.dir, `${name}-key.pem`);
    const csr = join(this.dir, `${name}.csr`);
    const cert = join(this.dir, `${name}.pem`);
    const ext = join(this.dir, `${name}.ext`);
    await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n');
    await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    await run('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr]);
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', String(Date.now()), '-days', '2', '-sha256', '-extfile', ext, '-out', cert]);
    return { ca: caCert, cert, key };
  }

  /** Node flags for a certificate set. */
  static flags(files: CertFiles): string[] {
    return ['--tls-cert', files.cert, '--tls-key', files.key, '--tls-ca', files.ca];
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
