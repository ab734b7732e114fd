// Unmodified Java client (the JRE's default trust store): prints the status of GET /v1/models.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class Models {
    public static void main(String[] args) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("https://api.openai.com/v1/models"))
                .header("Authorization", "Bearer sk-dummy").build();
        HttpResponse<Void> response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.discarding());
        System.out.println(response.statusCode());
    }
}
