"""ECDSA P-256 with SHA-256 in plain Python, for the test suite's foreign KeyStore.

Standard library only (no `cryptography` on the CI machine). Affine arithmetic with modular
inverses: slow (milliseconds per operation) and not constant time, which is fine for tests
and nothing else.
"""
import hashlib
import secrets

P = 2**256 - 2**224 + 2**192 + 2**96 - 1
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)


def _add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def _mul(k, point):
    result = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def on_curve(point):
    x, y = point
    return (y * y - (x * x * x + A * x + B)) % P == 0


class PrivateKey:
    def __init__(self, d=None):
        """A fresh random key, or the key with scalar `d` (1 <= d < N)."""
        if d is None:
            d = secrets.randbelow(N - 1) + 1
        if not 0 < d < N:
            raise ValueError("private scalar out of range")
        self.d = d
        self.public = _mul(self.d, G)

    def public_point(self) -> bytes:
        """SEC1 uncompressed: 04 || x || y."""
        x, y = self.public
        return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")

    def sign(self, message: bytes) -> bytes:
        """Raw r || s (the JWS form)."""
        e = int.from_bytes(hashlib.sha256(message).digest(), "big")
        while True:
            k = secrets.randbelow(N - 1) + 1
            r = _mul(k, G)[0] % N
            s = pow(k, -1, N) * (e + r * self.d) % N
            if r and s:
                return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def point_from_bytes(point: bytes):
    if len(point) != 65 or point[0] != 4:
        raise ValueError("not an uncompressed P-256 point")
    q = int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")
    if not on_curve(q):
        raise ValueError("not on the curve")
    return q


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    q = point_from_bytes(public)
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < N and 0 < s < N):
        return False
    e = int.from_bytes(hashlib.sha256(message).digest(), "big")
    w = pow(s, -1, N)
    x = _add(_mul(e * w % N, G), _mul(r * w % N, q))
    return x is not None and x[0] % N == r
