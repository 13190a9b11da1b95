// Starts AWS's DynamoDB Local bound to 127.0.0.1 only.
//
// DynamoDB Local has no option for the listen address and binds every
// interface; this launcher builds the same server its own main() would,
// then narrows the Jetty connectors to loopback before starting it.
// Run as a single-file source program with DynamoDBLocal.jar and its lib
// folder on the class path; arguments are DynamoDB Local's own (-port, -inMemory, -dbPath ...).

import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class LocalDynamoDB {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field serverField = DynamoDBProxyServer.class.getDeclaredField("server");
        serverField.setAccessible(true);
        Server jetty = (Server) serverField.get(proxy);
        for (Connector connector : jetty.getConnectors()) {
            ((ServerConnector) connector).setHost("127.0.0.1");
        }
        proxy.start();
        proxy.join();
    }
}
