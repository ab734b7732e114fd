# Unmodified requests client (its CA bundle is certifi's unless REQUESTS_CA_BUNDLE says otherwise).
import requests

print(requests.get("https://api.openai.com/v1/models", headers={"Authorization": "Bearer sk-dummy"}, timeout=10).status_code)
