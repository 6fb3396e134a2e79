"""Writes a Home Assistant configuration directory that starts headless, with no onboarding:

- configuration.yaml: the core (metric units, UTC), `http` on a loopback port, `api`, `config`
  and `device_automation` (the websocket commands the check uses), quiet logging;
- .storage/core.config_entries: the MQTT integration's config entry (since 2022 MQTT is set up
  only by a config entry, never by YAML), pointing at the test's mosquitto, discovery on;
- .storage/auth: one administrator and a long-lived refresh token, whose access token (a JWT
  signed HS256 with the token's key, as homeassistant/auth/__init__.py makes them) is written
  to token.txt for the check.

The storage formats are those of Home Assistant 2024.3 (auth store version 1, config entries
version 1); the run script pins that version.

Usage: haconfig.py CONFIG_DIR HTTP_PORT MQTT_PORT
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import sys
import time


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_hs256(claims: dict, key: str) -> str:
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def store(key: str, data: dict) -> dict:
    return {"version": 1, "minor_version": 1, "key": key, "data": data}


def main() -> None:
    config_dir, http_port, mqtt_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(os.path.join(config_dir, ".storage"), exist_ok=True)

    with open(os.path.join(config_dir, "configuration.yaml"), "w") as f:
        f.write(
            f"""homeassistant:
  name: sensorloop test
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: DE
http:
  server_host: 127.0.0.1
  server_port: {http_port}
api:
config:
device_automation:
logger:
  default: warning
  logs:
    homeassistant.components.mqtt: info
"""
        )

    entry = {
        "entry_id": secrets.token_hex(16),
        "version": 1,
        "minor_version": 1,
        "domain": "mqtt",
        "title": f"127.0.0.1:{mqtt_port}",
        "data": {
            "broker": "127.0.0.1",
            "port": mqtt_port,
            "discovery": True,
            "discovery_prefix": "homeassistant",
        },
        "options": {},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "unique_id": None,
        "disabled_by": None,
    }
    with open(os.path.join(config_dir, ".storage", "core.config_entries"), "w") as f:
        json.dump(store("core.config_entries", {"entries": [entry]}), f, indent=2)

    user_id = secrets.token_hex(16)
    token_id = secrets.token_hex(16)
    jwt_key = secrets.token_hex(64)
    ten_years = 10 * 365 * 24 * 3600
    now = datetime.datetime.now(datetime.timezone.utc)
    auth = {
        "users": [
            {
                "id": user_id,
                "group_ids": ["system-admin"],
                "is_owner": True,
                "is_active": True,
                "name": "sensorloop test",
                "system_generated": False,
                "local_only": False,
            }
        ],
        "groups": [
            {"id": "system-admin", "name": "Administrators"},
            {"id": "system-users", "name": "Users"},
            {"id": "system-read-only", "name": "Read Only"},
        ],
        "credentials": [],
        "refresh_tokens": [
            {
                "id": token_id,
                "user_id": user_id,
                "client_id": None,
                "client_name": "sensorloop test",
                "client_icon": None,
                "token_type": "long_lived_access_token",
                "created_at": now.isoformat(),
                "access_token_expiration": float(ten_years),
                "token": secrets.token_hex(64),
                "jwt_key": jwt_key,
                "last_used_at": None,
                "last_used_ip": None,
                "expire_at": None,
                "credential_id": None,
                "version": None,
            }
        ],
    }
    with open(os.path.join(config_dir, ".storage", "auth"), "w") as f:
        json.dump(store("auth", auth), f, indent=2)

    issued = int(time.time())
    token = jwt_hs256({"iss": token_id, "iat": issued, "exp": issued + ten_years}, jwt_key)
    with open(os.path.join(config_dir, "token.txt"), "w") as f:
        f.write(token + "\n")


if __name__ == "__main__":
    main()
