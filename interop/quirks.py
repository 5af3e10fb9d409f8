#!/usr/bin/env python3
"""Probes what each peer emits and what its verifier lets through, so that README.md's list of
quirks can be re-checked when a peer's version changes. Run with interop/.venv/bin/python;
TESSERA=/path/to/tessera adds our own CLI as a third column.

It forges SD-JWT VCs and presentations itself (with jwcrypto, so that each variant differs from
a good one in exactly one respect), feeds them to both wrappers' `verify` (and `present`), and
prints one line per probe: what each peer did. It asserts nothing: RFC 9901 says a verifier
MUST reject most of these, and the table shows which of them each peer lets through.
"""
import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time

from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = {
    "py": [os.path.join(HERE, ".venv/bin/python"), os.path.join(HERE, "py_sdjwt.py")],
    "ts": ["node", os.path.join(HERE, "ts_sdjwt.mjs")],
}
if os.environ.get("TESSERA"):  # TESSERA=/path/to/tessera adds our CLI as a third column
    PEERS["te"] = [os.path.abspath(os.environ["TESSERA"]), "sd-jwt"]
AUD, NONCE, VCT, ISS = "https://rp.example.it", "nonce-q", "urn:eudi:pid:it:1", "https://pid.example.it"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64json(s: str):
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


def digest(s: str) -> str:
    return b64(hashlib.sha256(s.encode("ascii")).digest())


def sign(header: dict, payload: dict, key: JWK) -> str:
    jws = JWS(json.dumps(payload, separators=(",", ":")).encode())
    jws.add_signature(key, alg=header["alg"], protected=json.dumps(header, separators=(",", ":")))
    return jws.serialize(compact=True)


def disclosure(name, value, salt=None) -> str:
    return b64(json.dumps([salt or b64(secrets.token_bytes(16)), name, value], separators=(",", ":")).encode())


class Forge:
    def __init__(self, issuer: JWK, holder: JWK):
        self.issuer, self.holder = issuer, holder

    def issued(self, header=None, extra_payload=None, drop=(), discs=None):
        discs = discs if discs is not None else [disclosure("given_name", "Mario"), disclosure("family_name", "Rossi")]
        now = int(time.time())
        payload = {"iss": ISS, "iat": now, "exp": now + 3600, "vct": VCT, "_sd_alg": "sha-256",
                   "_sd": sorted(digest(d) for d in discs), "cnf": {"jwk": self.holder.export_public(as_dict=True)}}
        payload.update(extra_payload or {})
        for k in drop:
            payload.pop(k, None)
        h = {"alg": "ES256", "typ": "dc+sd-jwt"}
        h.update(header or {})
        return sign(h, payload, self.issuer), discs

    def present(self, jwt, discs, kb_header=None, kb_payload=None, kb_drop=(), key=None, sd_hash_over=None):
        body = "~".join([jwt, *discs]) + "~"
        kbp = {"iat": int(time.time()), "aud": AUD, "nonce": NONCE, "sd_hash": digest(sd_hash_over if sd_hash_over is not None else body)}
        kbp.update(kb_payload or {})
        for k in kb_drop:
            kbp.pop(k, None)
        kbh = {"alg": "ES256", "typ": "kb+jwt"}
        kbh.update(kb_header or {})
        return body + sign(kbh, kbp, key or self.holder)


def run(peer, args, stdin, cwd):
    p = subprocess.run(PEERS[peer] + args, input=stdin, capture_output=True, text=True, cwd=cwd)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def verdict(peer, token, cwd, aud=AUD, nonce=NONCE, show=None):
    args = ["verify", "--issuer-jwk", "issuer.pub.jwk"] + (["--aud", aud, "--nonce", nonce] if nonce else [])
    rc, out, err = run(peer, args, token, cwd)
    if rc == 0:
        return "ACCEPTS" + (f" ({show} = {json.dumps(json.loads(out).get(show))})" if show else "")
    return "refuses (" + (err.splitlines()[-1] if err else f"exit {rc}")[:90] + ")"


def main():
    cwd = tempfile.mkdtemp()
    issuer, holder, other = (JWK.generate(kty="EC", crv="P-256") for _ in range(3))
    for name, k in (("issuer", issuer), ("holder", holder)):
        with open(os.path.join(cwd, name + ".jwk"), "w") as f:
            f.write(k.export_private())
        with open(os.path.join(cwd, name + ".pub.jwk"), "w") as f:
            f.write(k.export_public())
    with open(os.path.join(cwd, "claims.json"), "w") as f:
        json.dump({"given_name": "Mario", "place_of_birth": {"locality": "Forlì"}}, f, ensure_ascii=False)
    F = Forge(issuer, holder)

    print("== What each peer emits")
    for peer in PEERS:
        rc, issued, err = run(peer, ["issue", "--issuer-key", "issuer.jwk", "--holder-key", "holder.pub.jwk", "--claims", "claims.json", "--vct", VCT, "--iss", ISS], "", cwd)
        assert rc == 0, err
        jwt, *discs = issued.split("~")
        h, p = (unb64json(x) for x in jwt.split(".")[:2])
        raw_payload = base64.urlsafe_b64decode(jwt.split(".")[1] + "==").decode()
        raw_disc = [base64.urlsafe_b64decode(d + "==").decode() for d in discs if d]
        rc, pres, err = run(peer, ["present", "--holder-key", "holder.jwk", "--aud", AUD, "--nonce", NONCE, "--disclose", "given_name"], issued, cwd)
        assert rc == 0, err
        kb = pres.split("~")[-1]
        kbh, kbp = (unb64json(x) for x in kb.split(".")[:2])
        print(f"{peer}: issued ends with '~': {issued.endswith('~')}; header {json.dumps(h)}")
        print(f"{peer}: payload keys {list(p)}; payload JSON {'compact' if ', ' not in raw_payload else 'with spaces'}")
        print(f"{peer}: disclosures {raw_disc}")
        print(f"{peer}: salt {json.loads(raw_disc[0])[0]!r} ({len(json.loads(raw_disc[0])[0])} chars)")
        print(f"{peer}: KB-JWT header {json.dumps(kbh)} payload keys {list(kbp)}")
        rc, pres0, err = run(peer, ["present", "--holder-key", "holder.jwk", "--aud", AUD, "--nonce", NONCE, "--disclose", "none"], issued, cwd)
        print(f"{peer}: presentation with no disclosure has {pres0.count('~')} '~' (form <JWT>~<KB-JWT>)" if rc == 0 else f"{peer}: present with no disclosure fails: {err}")
        rc, pres1, err = run(peer, ["present", "--holder-key", "holder.jwk", "--aud", AUD, "--nonce", NONCE], issued.rstrip("~"), cwd)
        if rc == 0:
            print(f"{peer}: holder given the issued form WITHOUT trailing '~': accepts, presents {pres1.count('~') - 1} of {len([d for d in discs if d])} disclosures")
        else:
            print(f"{peer}: holder given the issued form WITHOUT trailing '~': refuses ({err.splitlines()[-1][:90]})")

    print("\n== What each verifier does with a forged variant (baseline must be ACCEPTS)")
    jwt, discs = F.issued()
    probes = [("baseline: good presentation", F.present(jwt, discs), {})]
    probes.append(("good presentation, verify without --aud/--nonce", F.present(jwt, discs), {"nonce": None}))
    probes.append(("issued form (no KB-JWT), verify without --aud/--nonce", jwt + "~" + "~".join(discs) + "~", {"nonce": None}))
    probes.append(("KB-JWT signed with wrong aud", F.present(jwt, discs, kb_payload={"aud": "https://evil.example"}), {}))
    j2, d2 = F.issued(header={"typ": "JWT"})
    probes.append(("SD-JWT typ 'JWT'", F.present(j2, d2), {}))
    j2, d2 = F.issued(header={"typ": "vc+sd-jwt"})
    probes.append(("SD-JWT typ 'vc+sd-jwt' (pre-2024 name)", F.present(j2, d2), {}))
    j2, d2 = F.issued(drop=("typ",))
    h = {"alg": "ES256"}
    now = int(time.time())
    pl = unb64json(j2.split(".")[1])
    j2 = sign(h, pl, issuer)
    probes.append(("SD-JWT without typ", F.present(j2, d2), {}))
    j2, d2 = F.issued(extra_payload={"exp": now - 3600, "iat": now - 7200})
    probes.append(("SD-JWT expired an hour ago", F.present(j2, d2), {}))
    j2, d2 = F.issued(extra_payload={"iat": now + 3600})
    probes.append(("SD-JWT iat an hour in the future", F.present(j2, d2), {}))
    j2, d2 = F.issued(extra_payload={"nbf": now + 3600})
    probes.append(("SD-JWT nbf an hour in the future", F.present(j2, d2), {}))
    j2, d2 = F.issued(drop=("_sd_alg",))
    probes.append(("no _sd_alg (default sha-256)", F.present(j2, d2), {}))
    j2, d2 = F.issued(drop=("vct",))
    probes.append(("no vct", F.present(j2, d2), {}))
    probes.append(("KB-JWT iat = 1 (1970)", F.present(jwt, discs, kb_payload={"iat": 1}), {}))
    probes.append(("KB-JWT iat a day in the future", F.present(jwt, discs, kb_payload={"iat": now + 86400}), {}))
    probes.append(("KB-JWT without iat", F.present(jwt, discs, kb_drop=("iat",)), {}))
    probes.append(("KB-JWT typ 'JWT'", F.present(jwt, discs, kb_header={"typ": "JWT"}), {}))
    probes.append(("KB-JWT signed by a key other than cnf", F.present(jwt, discs, key=other), {}))
    probes.append(("sd_hash over the form without the last '~'", F.present(jwt, discs, sd_hash_over="~".join([jwt, *discs])), {}))
    probes.append(("'~' after the KB-JWT", F.present(jwt, discs) + "~", {}))
    probes.append(("whitespace/newline around the token (the wrappers strip it)", "\n " + F.present(jwt, discs) + " \n", {}))
    stray = disclosure("tax_id_code", "TINIT-XXX")
    probes.append(("an unreferenced disclosure (in sd_hash)", F.present(jwt, discs + [stray]), {"show": "tax_id_code"}))
    probes.append(("the same disclosure twice (in sd_hash)", F.present(jwt, discs + [discs[0]]), {}))
    dup_name = disclosure("given_name", "Luigi")
    j2, d2 = F.issued(discs=discs + [dup_name])
    probes.append(("two disclosures for the same claim name", F.present(j2, d2), {"show": "given_name"}))
    clash = disclosure("iss", "https://evil.example")
    j2, d2 = F.issued(discs=discs + [clash])
    probes.append(("a disclosure named like a plain claim (iss)", F.present(j2, d2), {"show": "iss"}))
    j2, d2 = F.issued(discs=discs + [disclosure("_sd", ["x"])])
    probes.append(("a disclosure named '_sd'", F.present(j2, d2), {"show": "_sd"}))
    spaced = b64(json.dumps([b64(secrets.token_bytes(16)), "given_name", "Mario"], indent=1).encode())
    j2, d2 = F.issued(discs=[spaced])
    probes.append(("a disclosure with newlines/indentation in its JSON", F.present(j2, d2), {}))
    j2, d2 = F.issued(discs=[b64(json.dumps(["salt", "given_name", "Mario"]).encode()) + "="])
    probes.append(("a disclosure with base64 '=' padding", F.present(j2, d2), {}))
    j2, d2 = F.issued(discs=[b64(json.dumps([1234, "given_name", "Mario"]).encode())])
    probes.append(("a disclosure whose salt is a number", F.present(j2, d2), {}))

    width = max(len(p[0]) for p in probes)
    for name, token, kw in probes:
        row = "  ".join(f"{peer}: {verdict(peer, token, cwd, **kw)}" for peer in PEERS)
        print(f"{name:<{width}}  {row}")


if __name__ == "__main__":
    sys.exit(main())
