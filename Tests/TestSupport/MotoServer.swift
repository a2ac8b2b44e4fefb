public import Foundation
public import ObjectStorage
import Transport

/// A real S3 implementation on loopback for the tests: moto's server (`.ci/python-readers.txt`),
/// checking every signature (IAM mode), with a user whose keys may do anything in S3 and one
/// bucket. It stops when this value's ``stop()`` runs or the test process ends.
public final class MotoServer: @unchecked Sendable {
    /// `http://127.0.0.1:PORT`.
    public let endpoint: String
    /// The bucket made for the test.
    public let bucket: String
    /// The IAM user's access key id and secret.
    public let accessKeyID: String
    public let secretAccessKey: String
    /// A role the user may assume, whose keys may do anything in S3.
    public let roleARN: String
    private let process: Process
    private let input: Pipe

    static let script = #"""
        import http.client, http.server, json, os, re, socket, subprocess, sys, threading, time, boto3
        import urllib.parse

        def whole_key_listing(upstream):
            """A proxy in front of moto that lists uploads as MinIO does: a prefix lists only the
            uploads of the key it names in whole; no prefix, every upload of the bucket."""
            class Proxy(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                def log_message(self, *args): pass
                def forward(self):
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("expect", "connection", "keep-alive", "transfer-encoding")}
                    connection = http.client.HTTPConnection("127.0.0.1", upstream)
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    data = answer.read()
                    query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)
                    prefix = query.get("prefix", [""])[0]
                    if self.command == "GET" and "uploads" in query and prefix and answer.status == 200:
                        def keep(match):
                            key = re.search(rb"<Key>(.*?)</Key>", match.group(0))
                            return match.group(0) if key and key.group(1).decode() == prefix else b""
                        data = re.sub(rb"<Upload>.*?</Upload>", keep, data, flags=re.S)
                    self.send_response(answer.status)
                    for k, v in answer.getheaders():
                        if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD": self.wfile.write(data)
                do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            return server.server_address[1]

        probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]; probe.close()
        # Three calls without signatures (making the user, its policy and its keys); then every
        # call must be signed by a key moto knows.
        moto = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1",
                                 "-p", str(port)], env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="5",
                                                            S3_UPLOAD_PART_MIN_SIZE=sys.argv[2]),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = "http://127.0.0.1:%d" % port
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.5).close()
                    break
                except OSError:
                    time.sleep(0.05)
            iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                               aws_access_key_id="setup", aws_secret_access_key="setup")
            allow = lambda action: json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
            user = iam.create_user(UserName="faceexport")["User"]
            iam.put_user_policy(UserName="faceexport", PolicyName="s3", PolicyDocument=allow(["s3:*", "sts:AssumeRole"]))
            # A role for the web identity tests: its keys (from STS) may do anything in S3.
            role = iam.create_role(RoleName="exporter", AssumeRolePolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["Arn"]},
                                                         "Action": "sts:AssumeRole"}]}))["Role"]
            iam.put_role_policy(RoleName="exporter", PolicyName="s3", PolicyDocument=allow("s3:*"))
            key = iam.create_access_key(UserName="faceexport")["AccessKey"]
            boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                         aws_secret_access_key=key["SecretAccessKey"]).create_bucket(Bucket=sys.argv[1])
            if sys.argv[3] == "whole-key":
                url = "http://127.0.0.1:%d" % whole_key_listing(port)
            print(json.dumps({"endpoint": url, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"],
                              "role": role["Arn"]}), flush=True)
            sys.stdin.read()
        finally:
            moto.kill()
        """#

    /// Starts the server with a bucket named `bucket`, refusing to complete an upload with a part
    /// but the last smaller than `minimumPartSize` (S3's 5 MiB by default). With
    /// `listingUploadsByWholeKey`, the endpoint is a proxy that lists open uploads as MinIO does: a
    /// prefix lists only the uploads of the key it names in whole (a folder, none), no prefix all.
    public init(
        bucket: String = "nightly",
        minimumPartSize: Int = 5 << 20,
        listingUploadsByWholeKey: Bool = false
    )
        throws
    {
        self.bucket = bucket
        let started = try PythonReaders.startServer(
            Self.script,
            [bucket, String(minimumPartSize), listingUploadsByWholeKey ? "whole-key" : "prefix"],
            name: "moto's server"
        )
        (self.process, self.input) = (started.process, started.input)
        let line = started.line
        guard let started = try JSONSerialization.jsonObject(with: line) as? [String: String],
            let endpoint = started["endpoint"], let key = started["key"], let secret = started["secret"],
            let role = started["role"]
        else { throw TestFailure("moto's server said \(String(decoding: line, as: UTF8.self))") }
        self.endpoint = endpoint
        self.accessKeyID = key
        self.secretAccessKey = secret
        self.roleARN = role
    }

    /// Stops the server (its Python sees its standard input end and stops moto).
    public func stop() {
        try? self.input.fileHandleForWriting.close()
        self.process.waitUntilExit()
    }

    deinit { try? self.input.fileHandleForWriting.close() }

    /// A client of this server with the user's keys (or another `secret`), for `bucket` (the
    /// server's by default) at `endpoint` (the server's by default), path-style, without a proxy,
    /// trying a call that fails for a while again for `retryTolerance` seconds (none by default).
    public func client(
        secret: String? = nil,
        bucket: String? = nil,
        endpoint: String? = nil,
        retryTolerance: Double = 0
    ) throws -> ObjectStorageClient {
        var configuration = ObjectStorageClient.Configuration(
            endpoint: URL(string: endpoint ?? self.endpoint)!,
            bucket: bucket ?? self.bucket
        )
        configuration.pathStyle = true
        configuration.retry.tolerance = retryTolerance
        var transport = CurlTransport.Configuration()
        transport.network.proxy = .none
        let credentials = SignatureV4.Credentials(
            accessKeyID: self.accessKeyID,
            secretAccessKey: secret ?? self.secretAccessKey
        )
        return ObjectStorageClient(
            configuration: configuration,
            credentials: { credentials },
            transport: try CurlTransport(configuration: transport)
        )
    }

    /// Runs `script` in the readers' Python with boto3, `s3` a client of this server with the
    /// user's keys and `bucket` the bucket, and returns what it printed.
    public func boto3(_ script: String, _ arguments: [String] = []) throws -> Data {
        let prelude = """
            import boto3, sys
            s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                              aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
            bucket = sys.argv[4]
            sys.argv = sys.argv[4:]

            """
        return try PythonReaders.run(
            prelude + script,
            [self.endpoint, self.accessKeyID, self.secretAccessKey, self.bucket] + arguments
        )
    }
}
