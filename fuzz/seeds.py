#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/seeds/<target>/ (run from anywhere:
`python3 fuzz/seeds.py`; needs the `cryptography` package for the ES256 signatures).

Seeds are small, valid inputs in each target's own input format (see the comment at the top
of each target): the crate's test vectors (wallet-core/tests/vectors), protocol messages as
the IT-Wallet 1.4 / OpenID4VCI examples show them, JWTs signed here with ES256 keys carried
in the header (DPoP proofs, key proofs: the verifier checks them fully), and a few
near-misses (truncated, one field wrong) so the fuzzer starts next to each check. The
signed-mode seeds are a mode byte then a JSON payload the target signs itself. Seeds for
oid4vp_* and sd_jwt_one_pass were written by hand earlier and are left as they are.
Re-running rewrites the files this script owns; ECDSA signatures are randomised, so the
signed seeds change bytes but not meaning.
"""
import base64, hashlib, json, os, struct, zlib
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ROOT = Path(__file__).resolve().parent
SEEDS = ROOT / "seeds"
VEC = ROOT.parent / "wallet-core" / "tests" / "vectors"
NOW = 1_800_000_000


def b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def js(v) -> bytes:
    return json.dumps(v, separators=(",", ":")).encode()


def key(n: int):
    return ec.derive_private_key(n, ec.SECP256R1())


def jwk(k) -> dict:
    nums = k.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64(nums.x.to_bytes(32, "big")), "y": b64(nums.y.to_bytes(32, "big"))}


def es256(header: dict, payload: bytes, k) -> str:
    signing = f"{b64(js(header))}.{b64(payload)}".encode()
    r, s = decode_dss_signature(k.sign(signing, ec.ECDSA(hashes.SHA256())))
    return f"{signing.decode()}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def thumbprint(j: dict) -> str:
    return b64(hashlib.sha256(js({"crv": j["crv"], "kty": j["kty"], "x": j["x"], "y": j["y"]})).digest())


def write(target: str, name: str, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def mode(m: int, payload) -> bytes:
    return bytes([m]) + (payload if isinstance(payload, bytes) else js(payload))


WALLET = key(0x1111)
ISSUER = key(0x2222)


def sd_jwt_parse():
    for src, name in [("rfc9901/section5.1.sd-jwt", "rfc9901_issuance"), ("rfc9901/section5.2-selective.sd-jwt", "rfc9901_selective"),
                      ("sd-jwt-vc/pid-presentation.sd-jwt", "sd_jwt_vc_pid_kb")]:
        text = (VEC / src).read_text().strip()
        write("sd_jwt_parse", name, text)
    text = (VEC / "rfc9901/section5.2-selective.sd-jwt").read_text().strip()
    write("sd_jwt_parse", "near_no_trailing_tilde", text.rstrip("~"))
    write("sd_jwt_parse", "near_bad_disclosure", text + "WyJub3QiLCJ0aHJlZSJd~")


def jws_parse():
    for n in ["a2", "a3", "rfc8037-a4"]:
        write("jws_parse", f"rfc7515_{n}", (VEC / f"rfc7515/{n}.jws").read_text().strip())
        write("jws_parse", f"jwk_{n}", (VEC / f"rfc7515/{n}.jwk.json").read_text().strip())
    write("jws_parse", "jwk_rfc7638_rsa", (VEC / "rfc7638/rsa.jwk.json").read_text().strip())
    # Verifies with the key in its own header (the target checks that path).
    write("jws_parse", "es256_jwk_header", es256({"alg": "ES256", "typ": "JWT", "jwk": jwk(WALLET)}, js({"sub": "x", "iat": NOW}), WALLET))
    jwt = es256({"alg": "ES256", "jwk": jwk(WALLET)}, js({"a": 1}), WALLET)
    write("jws_parse", "near_bad_signature", jwt[:-4] + "AAAA")
    write("jws_parse", "near_alg_none", f"{b64(js({'alg': 'none'}))}.{b64(js({'a': 1}))}.")


def jwe_decrypt():
    # Well-formed ECDH-ES JWEs to a key the target does not hold (its key is made at start):
    # header, epk and the five parts parse; decryption fails at the tag.
    epk = jwk(key(0x3333))
    for enc, cek in [("A128GCM", 16), ("A256GCM", 32)]:
        h = {"alg": "ECDH-ES", "enc": enc, "epk": epk, "kid": "k1"}
        write("jwe_decrypt", f"ecdh_es_{enc.lower()}", ".".join([b64(js(h)), "", b64(b"\x01" * 12), b64(b"ciphertext" * 3), b64(b"\x02" * 16)]))
    h = {"alg": "ECDH-ES+A128KW", "enc": "A128GCM", "epk": epk}
    write("jwe_decrypt", "near_key_wrap", ".".join([b64(js(h)), b64(b"\x00" * 24), b64(b"\x01" * 12), b64(b"x"), b64(b"\x02" * 16)]))


def status_list_decode():
    for n, bits in [("draft-bits1", 1), ("draft-bits2", 2)]:
        v = json.loads((VEC / f"status/{n}.json").read_text())
        write("status_list_decode", n, bytes([bits - 1 if bits < 3 else 0]) + v["lst"].encode())
    raw = bytearray(4096)
    for i in range(0, len(raw), 97):
        raw[i] = 0x01
    write("status_list_decode", "bits1_4096_sparse", b"\x00" + b64(zlib.compress(bytes(raw), 9)).encode())
    write("status_list_decode", "bits8_256", b"\x03" + b64(zlib.compress(bytes(range(256)), 9)).encode())
    full = zlib.compress(bytes(raw), 9)
    write("status_list_decode", "near_truncated", b"\x00" + b64(full[:-3]).encode())
    write("status_list_decode", "near_trailing", b"\x00" + b64(full + b"\x00").encode())
    write("status_list_decode", "near_raw_deflate", b"\x00" + b64(zlib.compress(bytes(raw), 9)[2:-4]).encode())


def status_list_token():
    uri = "https://issuer.example/status/1"
    p = json.loads((VEC / "status/it-wallet-token-payload.json").read_text())
    write("status_list_token", "it_wallet_payload_patched", mode(0x11, p))
    q = dict(p, sub=uri, iat=NOW, exp=NOW + 86400)
    write("status_list_token", "valid_bits1", mode(0x01, q))
    raw = bytearray(1000)
    raw[3] = 0b0100
    q2 = dict(q, status_list={"bits": 2, "lst": b64(zlib.compress(bytes(raw), 9))})
    write("status_list_token", "valid_bits2_idx", mode(0x61, q2))
    write("status_list_token", "near_bits3", mode(0x01, dict(q, status_list={"bits": 3, "lst": p["status_list"]["lst"]})))
    write("status_list_token", "near_expired", mode(0x01, dict(q, exp=NOW - 3600, iat=NOW - 7200)))
    write("status_list_token", "near_other_sub", mode(0x01, dict(q, sub=uri + "x")))
    # Unsigned by the trusted key: stops at the signature.
    write("status_list_token", "foreign_signed", b"\x00" + es256({"alg": "ES256", "typ": "statuslist+jwt", "kid": "k"}, js(q), ISSUER).encode())


def dpop_proof():
    htu = "https://issuer.example/credential"
    claims = {"jti": "j-1", "htm": "POST", "htu": htu, "iat": NOW}
    write("dpop_proof", "signed_valid", mode(0x01, claims))
    write("dpop_proof", "signed_patched", mode(0x11, {"jti": "j-2"}))
    write("dpop_proof", "signed_ath_nonce", mode(0xF1, {"jti": "j-3"}))
    write("dpop_proof", "near_query_in_htu", mode(0x01, dict(claims, htu=htu + "?a=1#f")))
    write("dpop_proof", "near_old_iat", mode(0x01, dict(claims, iat=NOW - 301)))
    # Full proofs for the unsigned mode: the verifier takes the key from the header.
    hdr = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk(WALLET)}
    write("dpop_proof", "proof_valid", b"\x00" + es256(hdr, js(claims), WALLET).encode())
    ath = b64(hashlib.sha256(b"at-1").digest())
    write("dpop_proof", "proof_ath_nonce", b"\x60" + es256(hdr, js(dict(claims, ath=ath, nonce="n-1")), WALLET).encode())
    write("dpop_proof", "near_typ_jwt", b"\x00" + es256(dict(hdr, typ="jwt"), js(claims), WALLET).encode())
    write("dpop_proof", "near_private_jwk", b"\x00" + es256(dict(hdr, jwk=dict(jwk(WALLET), d="AAAA")), js(claims), WALLET).encode())


def key_proof():
    claims = {"iss": "client-1", "aud": "https://issuer.example", "iat": NOW, "nonce": "c-nonce-1"}
    write("key_proof", "signed_valid", mode(0x01, claims))
    write("key_proof", "signed_with_wua", mode(0x31, claims))
    write("key_proof", "signed_patched_twice", mode(0x51, {}))
    write("key_proof", "near_aud_list", mode(0x01, dict(claims, aud=["https://other.example", "https://issuer.example"])))
    write("key_proof", "near_stale_nonce", mode(0x01, dict(claims, nonce="old")))
    hdr = {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": jwk(WALLET)}
    p1 = es256(hdr, js(claims), WALLET)
    other = key(0x4444)
    p2 = es256(dict(hdr, jwk=jwk(other)), js(claims), other)
    write("key_proof", "proofs_two_keys", b"\x00" + f"{p1}\n{p2}".encode())
    write("key_proof", "near_kid_and_jwk", b"\x00" + es256(dict(hdr, kid="k"), js(claims), WALLET).encode())
    write("key_proof", "near_four_proofs", b"\x00" + "\n".join([p1] * 4).encode())


def access_token():
    c = {"iss": "https://issuer.example", "sub": "sub-1", "aud": "https://issuer.example", "client_id": "client-1", "iat": NOW,
         "exp": NOW + 300, "jti": "jti-1", "cnf": {"jkt": thumbprint(jwk(WALLET))}, "scope": "pid"}
    write("access_token", "signed_access", mode(0x01, c))
    write("access_token", "signed_refresh", mode(0x21, dict(c, exp=NOW + 86400, refreshed=True)))
    write("access_token", "signed_rar", mode(0x11, dict(c, authorization_details=[{"type": "openid_credential", "credential_configuration_id": "dc_sd_jwt_pid"}])))
    write("access_token", "near_expired", mode(0x01, dict(c, exp=NOW - 61)))
    write("access_token", "near_no_cnf", mode(0x11, {k: v for k, v in c.items() if k != "cnf"}))
    write("access_token", "foreign_signed", b"\x00" + es256({"typ": "at+jwt", "alg": "ES256", "kid": "k"}, js(c), ISSUER).encode())


def entity_statement():
    ta = "https://ta.example"
    ec_ = {"iss": ta, "sub": ta, "iat": NOW - 60, "exp": NOW + 3600, "jwks": {"keys": []},
           "metadata": {"federation_entity": {"federation_fetch_endpoint": f"{ta}/fetch", "organization_name": "TA"}},
           "authority_hints": []}
    write("entity_statement", "entity_configuration", mode(0x11, ec_))
    sub = {"iss": ta, "sub": "https://rp.example", "iat": NOW - 60, "exp": NOW + 3600, "jwks": {"keys": [jwk(WALLET)]},
           "metadata_policy": {"openid_relying_party": {"scope": {"subset_of": ["openid", "pid"]}}}}
    write("entity_statement", "subordinate_statement", mode(0x01, sub))
    write("entity_statement", "near_crit_unknown", mode(0x11, dict(ec_, crit=["x"], x=1)))
    for n in ["tv1-rp", "tv2-op"]:
        v = json.loads((VEC / f"federation/{n}.json").read_text())
        md = v.get("leaf_metadata") or {}
        pol = [v["ta_policy"], v["int_policy"]] if "ta_policy" in v else v["policies_top_down"][:2]
        write("entity_statement", f"policy_{n}", mode(0x02, [pol[0], pol[1], md, []]))
    write("entity_statement", "near_policy_conflict", mode(0x02, [{"openid_relying_party": {"scope": {"value": "a"}}},
                                                                   {"openid_relying_party": {"scope": {"value": "b"}}}, {}, []]))


def attestation_request():
    wp = "https://wp.example"
    req = {"iss": "x", "aud": wp, "exp": NOW + 300, "iat": NOW, "nonce": "n" * 32, "hardware_signature": b64(b"sig"),
           "integrity_assertion": b64(b"ia"), "attested_key": "", "hardware_key_tag": "tag-1", "cnf": {}}
    write("attestation_request", "request_patched", mode(0x11, req))
    waa = {"iss": wp, "sub": "x", "cnf": {}, "iat": NOW, "exp": NOW + 3600,
           "eudi_wallet_info": {"general_info": {"wallet_provider_name": "WP", "wallet_solution_id": "ws", "wallet_solution_version": "1",
                                                 "wallet_solution_certification_information": ""}}}
    write("attestation_request", "waa_patched", mode(0x12, waa))
    wua = {"iss": wp, "iat": NOW, "exp": NOW + 86400 * 31, "attested_keys": [jwk(WALLET)], "key_storage": ["iso_18045_moderate"],
           "user_authentication": ["iso_18045_moderate"], "status": {"status_list": {"idx": 7, "uri": f"{wp}/status/1"}}}
    write("attestation_request", "wua", mode(0x03, wua))
    pop = {"iss": "x", "aud": "https://issuer.example", "jti": "j-1", "iat": NOW, "exp": NOW + 60}
    write("attestation_request", "pop_patched", mode(0x14, pop))
    write("attestation_request", "pop_challenge", mode(0x34, dict(pop, challenge="challenge")))
    write("attestation_request", "near_wua_no_keys", mode(0x03, dict(wua, attested_keys=[])))


def der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82]) + struct.pack(">H", n)
    return bytes([tag]) + ln + body


def der_int(v: int) -> bytes:
    b = v.to_bytes((v.bit_length() + 8) // 8 or 1, "big")
    return der(0x02, b)


def key_attestation():
    # KeyDescription (Android Key Attestation schema): version, security levels, challenge,
    # uniqueId, two AuthorizationLists; [702] origin and [704] rootOfTrust in the TEE list.
    def kd(version, level, challenge, tee):
        return der(0x30, der_int(version) + der(0x0A, bytes([level])) + der_int(version) + der(0x0A, bytes([level]))
                   + der(0x04, challenge) + der(0x04, b"") + der(0x30, b"") + der(0x30, tee))
    origin = b"\xbf\x85\x3e" + bytes([3]) + der_int(0)  # [702] EXPLICIT INTEGER 0 (generated)
    rot = der(0x30, der(0x04, b"\x00" * 32) + der(0x01, b"\xff") + der(0x0A, b"\x00") + der(0x04, b"\x00" * 32))
    rot_tagged = b"\xbf\x85\x40" + bytes([len(rot)]) + rot  # [704] rootOfTrust
    write("key_attestation", "android_tee", b"\x01" + kd(200, 1, b"challenge", origin + rot_tagged))
    write("key_attestation", "android_software", b"\x01" + kd(4, 0, b"challenge", b""))
    write("key_attestation", "near_android_wrong_challenge", b"\x01" + kd(200, 1, b"other", origin))
    sw = {"iss": "software", "iat": NOW - 10, "exp": NOW + 3600, "challenge": "challenge", "attested_key": jwk(WALLET),
          "security_level": "software"}
    write("key_attestation", "software", mode(0x02, sw))
    write("key_attestation", "near_software_expired", mode(0x02, dict(sw, exp=NOW - 1)))
    write("key_attestation", "raw_jwt", b"\x00" + es256({"alg": "ES256", "typ": "JWT"}, js(sw), ISSUER).encode())


def oid4vci_messages():
    iss = "https://issuer.example.it"
    offer = {"credential_issuer": iss, "credential_configuration_ids": ["dc_sd_jwt_pid"],
             "grants": {"authorization_code": {"issuer_state": "s-1"}}}
    write("oid4vci_messages", "offer_json", js(offer))
    from urllib.parse import quote
    write("oid4vci_messages", "offer_url_by_value", "openid-credential-offer://?credential_offer=" + quote(json.dumps(offer)))
    write("oid4vci_messages", "offer_url_by_ref", "openid-credential-offer://?credential_offer_uri=" + quote(f"{iss}/offer/1", safe=""))
    write("oid4vci_messages", "credential_request", js({"credential_configuration_id": "dc_sd_jwt_pid", "proofs": {"jwt": ["a.b.c"]}}))
    write("oid4vci_messages", "credential_request_enc", js({"credential_identifier": "pid-1", "proofs": {"jwt": ["a.b.c"]},
                                                            "credential_response_encryption": {"jwk": jwk(WALLET), "enc": "A256GCM"}}))
    write("oid4vci_messages", "credential_response", js({"credentials": [{"credential": "a.b.c~"}], "notification_id": "n-1"}))
    write("oid4vci_messages", "deferred", js({"transaction_id": "t-1"}))
    write("oid4vci_messages", "notification", js({"notification_id": "n-1", "event": "credential_accepted"}))
    write("oid4vci_messages", "token_response", js({"access_token": "a.b.c", "token_type": "DPoP", "expires_in": 300,
                                                    "authorization_details": [{"type": "openid_credential", "credential_configuration_id": "dc_sd_jwt_pid", "credential_identifiers": ["pid-1"]}]}))
    write("oid4vci_messages", "par_response", js({"request_uri": "urn:ietf:params:oauth:request_uri:abc", "expires_in": 60}))
    md = {"credential_issuer": iss, "credential_endpoint": f"{iss}/credential", "nonce_endpoint": f"{iss}/nonce",
          "batch_credential_issuance": {"batch_size": 10},
          "credential_configurations_supported": {"dc_sd_jwt_pid": {"format": "dc+sd-jwt", "vct": "urn:eudi:pid:it:1", "scope": "pid",
                                                                    "cryptographic_binding_methods_supported": ["jwk"],
                                                                    "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}}}}}
    write("oid4vci_messages", "issuer_metadata", js(md))
    write("oid4vci_messages", "token_form_code", "grant_type=authorization_code&code=c-1&redirect_uri=https%3A%2F%2Fwallet.example.it%2Fcb&code_verifier=" + "v" * 43 + "&client_id=client-1")
    write("oid4vci_messages", "token_form_refresh", "grant_type=refresh_token&refresh_token=a.b.c")
    write("oid4vci_messages", "par_form", "client_id=client-1&request=a.b.c")
    write("oid4vci_messages", "near_par_request_uri", "client_id=client-1&request=a.b.c&request_uri=urn%3Ax")
    write("oid4vci_messages", "authorize_query", "client_id=client-1&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc")
    write("oid4vci_messages", "auth_response", "https://wallet.example.it/cb?code=c-1&state=" + "s" * 32 + "&iss=" + quote(iss, safe=""))
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = b64(hashlib.sha256(verifier.encode()).digest())
    write("oid4vci_messages", "pkce_s256", f"{challenge}\nS256")
    write("oid4vci_messages", "near_pkce_plain", f"{verifier}\nplain")


for f in [sd_jwt_parse, jws_parse, jwe_decrypt, status_list_decode, status_list_token, dpop_proof, key_proof, access_token,
          entity_statement, attestation_request, key_attestation, oid4vci_messages]:
    f()
print("seeds written under", SEEDS)
