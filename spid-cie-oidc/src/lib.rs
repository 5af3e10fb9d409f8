//! SPID/CIE OpenID Connect, Italian profile: relying party and test OpenID Provider.
