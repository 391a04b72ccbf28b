"""Who may call: Kite's login redirect, single-use request tokens, access tokens until about 6 AM,
rate limits per kind of request, and the static-IP rule for order requests."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from datetime import datetime, timedelta
from datetime import time as clock_time
from urllib.parse import parse_qsl, urlencode

from niftybaskets.market import IST
from niftybaskets.paper import payloads
from niftybaskets.paper.account_file import Rules
from niftybaskets.paper.errors import KiteError, input_error, token_error, too_many_requests
from niftybaskets.paper.payloads import stamp
from niftybaskets.paper.storage import Storage
from niftybaskets.ratelimit import RateLimiter

TOKEN_EXPIRY = clock_time(6, 0)


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=IST)


def token_expiry(now: datetime) -> datetime:
    """The next 6 AM IST: when Kite ends a session opened now."""
    local = now.astimezone(IST)
    expiry = datetime.combine(local.date(), TOKEN_EXPIRY, IST)
    return expiry if local < expiry else expiry + timedelta(days=1)


class PaperSessions:
    def __init__(self, storage: Storage, rules: Rules, limiter: RateLimiter) -> None:
        self.storage = storage
        self.rules = rules
        self._limiter = limiter
        self._whitelist = [ipaddress.ip_network(entry, strict=False) for entry in rules.whitelisted_ips]
        self.refused_for_rate = 0  # requests answered 429: a client that keeps Kite's limits sees none

    def login_redirect(self, api_key: str, redirect_params: str | None, user_id: str | None, now: datetime) -> str:
        """Kite's login page, minus the person: approve at once and send the browser back.

        An app shared by family accounts logs in its first account, or the one `user_id` names
        (what typing that person's credentials would do).
        """
        account = self.storage.account_by_api_key(api_key or "", user_id)
        if account is None and user_id:
            raise input_error(f"No paper account {user_id} uses this api_key.")
        if account is None:
            raise input_error("Invalid `api_key`: no paper account has it. Check KITE_API_KEY and the account file.")
        token = secrets.token_hex(16)
        self.storage.insert_request_token(token, account["user_id"], stamp(now))
        query = {"action": "login", "type": "login", "status": "success", "request_token": token}
        extra = parse_qsl(redirect_params or "", keep_blank_values=True)
        url = account["redirect_url"]
        return f"{url}{'&' if '?' in url else '?'}{urlencode([*query.items(), *extra])}"

    def create(self, api_key: str, request_token: str, checksum: str, now: datetime) -> dict:
        """POST /session/token: a request token, used once and soon, becomes an access token."""
        app_account = self.storage.account_by_api_key(api_key)
        if app_account is None:
            raise token_error("Invalid `api_key`.")
        expected = hashlib.sha256((api_key + request_token + app_account["api_secret"]).encode()).hexdigest()
        if not secrets.compare_digest(expected.encode(), checksum.encode()):
            raise token_error("Invalid `checksum`.")
        issued = self.storage.request_token(request_token)
        account = self.storage.account(issued["user_id"]) if issued else None
        if (
            account is None
            or issued["used"]
            or account["api_key"] != api_key
            or now - parse_stamp(issued["issued_at"]) > timedelta(seconds=self.rules.request_token_ttl_seconds)
        ):
            raise token_error("Token is invalid or has expired.")
        self.storage.use_request_token(request_token)
        session = {
            "access_token": secrets.token_hex(16),
            "user_id": account["user_id"],
            "public_token": secrets.token_hex(16),
            "issued_at": stamp(now),
            "expires_at": stamp(token_expiry(now)),
        }
        self.storage.insert_session(session)
        return {
            **payloads.profile(account),
            "api_key": api_key,
            "access_token": session["access_token"],
            "public_token": session["public_token"],
            "enctoken": "",
            "refresh_token": "",
            "silo": "",
            "login_time": session["issued_at"],
        }

    def invalidate(self, api_key: str, access_token: str) -> None:
        """DELETE /session/token: the app logs the user out."""
        session = self.storage.session(access_token or "")
        account = self.storage.account(session["user_id"]) if session else None
        if account is None or account["api_key"] != api_key:
            raise token_error()
        self.storage.revoke_session(access_token)

    def user_of(self, authorization: str | None, now: datetime) -> str:
        """The user id behind `Authorization: token api_key:access_token`, while the session lasts."""
        scheme, _, credentials = (authorization or "").partition(" ")
        api_key, _, access_token = credentials.partition(":")
        if scheme != "token" or not api_key or not access_token:
            raise token_error()
        session = self.storage.session(access_token)
        account = self.storage.account(session["user_id"]) if session else None
        if account is None or session["revoked"] or account["api_key"] != api_key:
            raise token_error()
        if self.rules.token_expiry and now >= parse_stamp(session["expires_at"]):
            raise token_error()
        return account["user_id"]

    def count_request(self, user_id: str, bucket: str) -> None:
        """Count one request of the user against the bucket's limits: `orders`, `quote`, `historical` or `api`."""
        if not self._limiter.allow(f"{bucket}:{user_id}", self._limits(bucket)):
            self.refused_for_rate += 1
            raise too_many_requests()

    def _limits(self, bucket: str) -> list[tuple[int, float]]:
        if bucket == "orders":
            return [(self.rules.order_rate_limit, 1.0), (self.rules.order_rate_limit_per_minute, 60.0)]
        if bucket == "quote":
            return [(self.rules.quote_rate_limit, 1.0)]
        if bucket == "historical":
            return [(self.rules.historical_rate_limit, 1.0)]
        return [(self.rules.api_rate_limit, 1.0)]

    def check_order_origin(self, client_ip: str | None) -> None:
        """Since April 2026 Kite takes order requests only from the account's whitelisted static IP."""
        if not self.rules.ip_whitelist:
            return
        try:
            address = ipaddress.ip_address(client_ip or "")
        except ValueError:
            address = None
        if address is None or not any(address in network for network in self._whitelist):
            raise KiteError(
                403,
                "PermissionException",
                f"Order requests are accepted only from your whitelisted static IP; this one came from "
                f"{client_ip}. Send orders from that machine, or add the address under IP Whitelist at "
                "developers.kite.trade (the paper exchange: rules.whitelisted_ips).",
            )
