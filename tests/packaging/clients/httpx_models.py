# Unmodified httpx client (certifi's bundle unless SSL_CERT_FILE says otherwise).
import httpx

print(httpx.get("https://api.openai.com/v1/models", headers={"Authorization": "Bearer sk-dummy"}, timeout=10).status_code)
