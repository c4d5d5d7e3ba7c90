// The certificate authority of one sandbox's credential proxy: made when the sandbox starts, its key held in the
// launcher's memory only (never written, never in the sandbox), it signs a certificate for each host the sandbox
// connects to over TLS. The sandbox trusts it through the bundle `trustBundle` returns.
import { createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, getCACertificates, type SecureContext } from 'node:tls';
import forge from 'node-forge';

/** Valid this long: longer than any sandbox lives (each start makes a new authority). */
const VALID_DAYS = 30;
/** At most this many hosts' contexts are kept, the least recently used going first: the names come from the sandbox. */
const CONTEXT_CACHE = 256;

// node-forge builds the to-be-signed part at run time but its types do not declare it; the signature itself is
// made by Node's crypto (native RSA), which is some thirty times faster than forge's.
const getTBSCertificate = (forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate;

export class MitmAuthority {
  /** The authority's certificate: what the sandbox trusts. */
  readonly certPem: string;
  private readonly cert: forge.pki.Certificate;
  private readonly keyPem: string;
  /** One key for every leaf: a new host costs a signature, not a key generation. */
  private readonly leafKey: { publicKey: forge.pki.PublicKey; pem: string };
  /** The authority's key identifier (raw bytes), which each leaf names. */
  private readonly keyId: string;
  private readonly contexts = new Map<string, SecureContext>();

  constructor() {
    const ca = rsaKeyPair();
    this.keyPem = ca.pem;
    const subject = [
      { name: 'commonName', value: 'edgeharness sandbox credential proxy' },
      { name: 'organizationName', value: 'edgeharness' },
    ];
    this.cert = certificate(ca.publicKey, subject, subject, [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true, digitalSignature: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    this.signWithCa(this.cert);
    this.certPem = forge.pki.certificateToPem(this.cert);
    this.leafKey = rsaKeyPair();
    this.keyId = this.cert.generateSubjectKeyIdentifier().getBytes();
  }

  /** The TLS context that presents a certificate for `host` (a name or an IP literal), made on first use. */
  contextFor(host: string): SecureContext {
    const cached = this.contexts.get(host);
    if (cached) {
      this.contexts.delete(host);
      this.contexts.set(host, cached);
      return cached;
    }
    const context = createSecureContext(this.certificateFor(host));
    this.contexts.set(host, context);
    for (const oldest of this.contexts.keys()) {
      if (this.contexts.size <= CONTEXT_CACHE) break;
      this.contexts.delete(oldest);
    }
    return context;
  }

  /** A certificate for `host` signed by this authority (with the chain up to it) and its key, as PEM. */
  certificateFor(host: string): { cert: string; key: string } {
    const leaf = certificate(this.leafKey.publicKey, [{ name: 'commonName', value: host.slice(0, 64) }], this.cert.subject.attributes, [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }] },
      { name: 'subjectKeyIdentifier' },
      // Python 3.13's strict verification refuses a leaf without it
      { name: 'authorityKeyIdentifier', keyIdentifier: this.keyId },
    ]);
    this.signWithCa(leaf);
    return { cert: forge.pki.certificateToPem(leaf) + this.certPem, key: this.leafKey.pem };
  }

  /**
   * What the sandbox's HTTPS clients trust: this authority alone. Every TLS connection of such a sandbox is
   * terminated by its credential proxy (sandbox-runtime hands it every host), so no other root could ever verify
   * anything there; and a client that loads a bundle of the usual 150 to 300 roots on each start (curl does) spends
   * some 35 ms on it.
   */
  trustBundle(): string {
    return this.certPem;
  }

  private signWithCa(cert: forge.pki.Certificate): void {
    const oid = forge.pki.oids.sha256WithRSAEncryption as string;
    cert.siginfo.algorithmOid = oid;
    cert.signatureOid = oid;
    cert.tbsCertificate = getTBSCertificate(cert);
    const der = forge.asn1.toDer(cert.tbsCertificate).getBytes();
    cert.signature = sign('sha256', Buffer.from(der, 'binary'), this.keyPem).toString('binary');
  }
}

/** The roots the proxy verifies upstream servers against: the system's, Node's, and NODE_EXTRA_CA_CERTS. */
export function upstreamRoots(): string[] {
  return [...new Set([...getCACertificates('system'), ...getCACertificates('default')])];
}

function rsaKeyPair(): { publicKey: forge.pki.PublicKey; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { publicKey: forge.pki.publicKeyFromPem(spki), pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function certificate(
  publicKey: forge.pki.PublicKey,
  subject: forge.pki.CertificateField[],
  issuer: forge.pki.CertificateField[],
  // node-forge types extensions as `any[]`: each is an object literal in its own shape
  extensions: object[],
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // positive and without a leading zero byte, which strict parsers refuse
  cert.serialNumber = `4${randomBytes(15).toString('hex')}`;
  const notBefore = new Date(Date.now() - 24 * 3600_000); // a clock slightly behind the host's still accepts it
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + (VALID_DAYS + 1) * 24 * 3600_000);
  cert.setSubject(subject);
  cert.setIssuer(issuer);
  cert.setExtensions(extensions);
  return cert;
}
