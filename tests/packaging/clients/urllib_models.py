# Unmodified standard-library client: prints the HTTP status of GET /v1/models.
import urllib.request

request = urllib.request.Request("https://api.openai.com/v1/models", headers={"Authorization": "Bearer sk-dummy"})
with urllib.request.urlopen(request, timeout=10) as response:
    print(response.status)
