// Shared by openid4vp_verifier.mjs and openid4vp_wallet.mjs: the callbacks npm
// `@openid4vc/openid4vp` 0.4.6 wants (it does no cryptography itself), written on `jose` 6 and
// `node:crypto`, plus small helpers. Nothing here adds a protocol check of its own except
// where a callback must (the x5c chain of a request object: the library leaves trust in the
// certificate to the verifyJwt callback).
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CompactEncrypt, CompactSign, compactDecrypt, compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import { setGlobalConfig } from '@openid4vc/oauth2';

// http:// URLs on loopback (client ids, request/response URIs, logo_uri): refused by default.
setGlobalConfig({ allowInsecureUrls: true });

export const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
export const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
export const random = (n) => b64url(randomBytes(n));
export const now = () => Math.floor(Date.now() / 1000);
/** One JSON document per line on stdout: what the Rust test reads. */
export const emit = (doc) => process.stdout.write(`${JSON.stringify(doc)}\n`);
export const publicOf = (jwk) => {
  const { d, ...pub } = jwk;
  return pub;
};

const HASHES = { 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512' };

/** hash(data, alg) for the library (x509_hash client ids, transaction data). */
export function hash(data, alg) {
  const h = HASHES[alg];
  if (!h) throw new Error(`unsupported hash ${alg}`);
  return new Uint8Array(createHash(h).update(data).digest());
}

/** SAN DNS names and URIs of a base64 DER certificate (x509_san_dns / x509_san_uri checks). */
export function x509Metadata(certB64) {
  const cert = new X509Certificate(Buffer.from(certB64, 'base64'));
  const names = (cert.subjectAltName ?? '').split(', ').filter(Boolean);
  return {
    sanDnsNames: names.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)),
    sanUriNames: names.filter((n) => n.startsWith('URI:')).map((n) => n.slice(4)),
  };
}

/**
 * Verifies an x5c chain (leaf first, root excluded) to one of `rootsB64`: each certificate
 * signed by the next, the last by a root, all within their validity. Returns the leaf.
 * node:crypto checks signatures and issuer names only: no path length, key usage or name
 * constraints (Tessera checks those).
 */
export function verifyX5c(x5c, rootsB64) {
  if (!Array.isArray(x5c) || x5c.length === 0) throw new Error('no x5c');
  const certs = x5c.map((c) => new X509Certificate(Buffer.from(c, 'base64')));
  const roots = rootsB64.map((c) => new X509Certificate(Buffer.from(c, 'base64')));
  const t = Date.now();
  for (const c of certs) {
    if (t < Date.parse(c.validFrom) || t > Date.parse(c.validTo)) throw new Error(`certificate ${c.subject} outside its validity`);
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i].checkIssued(certs[i + 1]) || !certs[i].verify(certs[i + 1].publicKey)) throw new Error(`x5c[${i}] is not issued by x5c[${i + 1}]`);
  }
  const last = certs[certs.length - 1];
  if (!roots.some((r) => last.checkIssued(r) && last.verify(r.publicKey))) throw new Error('x5c does not chain to a configured root');
  return certs[0];
}

/**
 * The callbacks. `signingKey`: the private JWK that signs (the verifier's request objects);
 * `decryptionKeys`: private JWKs (with kid) the verifier decrypts responses with;
 * `x509Roots`: base64 DER roots the wallet trusts for x5c; `federation`: an optional
 * async (signer, {header, payload, compact}) => publicJwk for `openid_federation` client ids.
 */
export function callbacks({ signingKey, decryptionKeys = [], x509Roots = [], federation } = {}) {
  return {
    hash,
    generateRandom: (n) => new Uint8Array(randomBytes(n)),
    fetch: (...a) => fetch(...a),
    getX509CertificateMetadata: x509Metadata,
    async signJwt(signer, { header, payload }) {
      if (!signingKey) throw new Error('no signing key');
      const key = await importJWK(signingKey, header.alg);
      const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header).sign(key);
      return { jwt, signerJwk: publicOf(signingKey) };
    },
    async verifyJwt(signer, { header, payload, compact }) {
      let publicJwk;
      if (signer.method === 'x5c') {
        const leaf = verifyX5c(signer.x5c, x509Roots);
        publicJwk = leaf.publicKey.export({ format: 'jwk' });
      } else if (signer.method === 'jwk') {
        publicJwk = signer.publicJwk;
      } else if (signer.method === 'federation' && federation) {
        publicJwk = await federation(signer, { header, payload, compact });
      } else {
        throw new Error(`signer method ${signer.method} not supported by these callbacks`);
      }
      try {
        await compactVerify(compact, await importJWK(publicJwk, header.alg));
        return { verified: true, signerJwk: publicJwk };
      } catch {
        return { verified: false, signerJwk: publicJwk };
      }
    },
    async encryptJwe(encryptor, data) {
      const { publicJwk, alg, enc, apu, apv } = encryptor;
      const header = { alg, enc, kid: publicJwk.kid };
      const e = new CompactEncrypt(new TextEncoder().encode(data)).setProtectedHeader(header);
      if (apu || apv) {
        e.setKeyManagementParameters({
          ...(apu ? { apu: Buffer.from(apu, 'base64url') } : {}),
          ...(apv ? { apv: Buffer.from(apv, 'base64url') } : {}),
        });
      }
      return { jwe: await e.encrypt(await importJWK(publicJwk, alg)), encryptionJwk: publicJwk };
    },
    async decryptJwe(jwe, options) {
      const { kid } = decodeProtectedHeader(jwe);
      const key = decryptionKeys.find((k) => (kid ? k.kid === kid : options?.jwk && k.x === options.jwk.x));
      if (!key) return { decrypted: false };
      try {
        const { plaintext } = await compactDecrypt(jwe, await importJWK(key, 'ECDH-ES'));
        return { decrypted: true, decryptionJwk: publicOf(key), payload: new TextDecoder().decode(plaintext) };
      } catch {
        return { decrypted: false };
      }
    },
  };
}
