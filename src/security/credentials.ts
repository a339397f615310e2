/**
 * gRPC credentials from a TlsConfig: the node's server credentials and the channel credentials of
 * node-to-node and public clients. Without TLS both are plaintext.
 */
import * as grpc from '@grpc/grpc-js';
import type { TlsConfig } from './tls-config.js';

type CertificateProvider = grpc.experimental.CertificateProvider;
type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/**
 * Hands fixed PEM material to grpc-js's certificate-provider credentials; nothing is watched or
 * re-read. Listeners get the material on the next microtask, not inside add…Listener: grpc-js
 * 1.14 subscribes to the provider *before* it registers the server's watcher, so an update
 * delivered synchronously never reaches the server, which then drops every connection. The
 * microtask runs before the listening socket can accept anything.
 */
class StaticCertificateProvider implements CertificateProvider {
  constructor(private readonly tls: Required<TlsConfig>) {}
  addCaCertificateListener(listener: CaListener): void {
    queueMicrotask(() => listener({ caCertificate: this.tls.ca }));
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(listener: IdentityListener): void {
    queueMicrotask(() => listener({ certificate: this.tls.cert, privateKey: this.tls.key }));
  }
  removeIdentityCertificateListener(): void {}
}

/**
 * The server side. With TLS the server *requests* a client certificate but does not require one
 * at the handshake: public clients (CLI, EngramClient) connect with the CA alone, while the
 * internal service refuses every call whose connection did not present a certificate the CA
 * signed (see requireNodeCertificate). `ServerCredentials.createSsl(…, true)` cannot express
 * this — it would demand certificates from every client — so this uses grpc-js's
 * certificate-provider credentials, whose `requireClientCertificate: false` maps to Node's
 * `requestCert: true, rejectUnauthorized: false`.
 */
export function serverCredentials(tls: TlsConfig | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  if (!tls.cert || !tls.key) throw new TypeError('server TLS needs a certificate and key');
  const provider = new StaticCertificateProvider({ ca: tls.ca, cert: tls.cert, key: tls.key });
  // One provider serves CA and identity, which also keeps us clear of the argument order of
  // createCertificateProviderServerCredentials (grpc-js 1.14 passes them on swapped).
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/** The client side: verify the server against the CA, and present our certificate when we have one. */
export function channelCredentials(tls: TlsConfig | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null);
}
