import Foundation

/// STS's `AssumeRoleWithWebIdentity` on loopback for the tests, in front of a ``MotoServer``: a
/// request whose token and role are the expected ones gets keys of the role, which the moto server
/// made (`AssumeRole` with its user's keys), so that S3 calls signed with them are checked for
/// real; any other token is refused as STS refuses it (`InvalidIdentityToken`). moto's own STS
/// cannot answer this call unsigned while it checks signatures. Stops with ``stop()`` or the tests.
public final class WebIdentitySTS: @unchecked Sendable {
    /// `http://127.0.0.1:PORT/`.
    public let endpoint: String
    private let process: Process
    private let input: Pipe

    static let script = #"""
        import http.server, json, sys, threading, urllib.parse, boto3
        moto, key, secret, role, token = sys.argv[1:6]
        sts = boto3.client("sts", endpoint_url=moto, region_name="us-east-1",
                           aws_access_key_id=key, aws_secret_access_key=secret)
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args): pass
            def do_POST(self):
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                ok = form.get("Action") == ["AssumeRoleWithWebIdentity"] and form.get("RoleArn") == [role] \
                    and form.get("WebIdentityToken") == [token]
                if ok:
                    c = sts.assume_role(RoleArn=role, RoleSessionName=form["RoleSessionName"][0])["Credentials"]
                    body = ("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
                            "<AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
                            "<SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>"
                            "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>") % (
                        c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"],
                        c["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"))
                    self.send_response(200)
                else:
                    body = ("<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                            "<Message>the token is not valid</Message></Error></ErrorResponse>")
                    self.send_response(400)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print("http://127.0.0.1:%d/" % server.server_address[1], flush=True)
        sys.stdin.read()
        """#

    /// Starts STS for `moto`'s role, accepting `token` only.
    public init(moto: MotoServer, token: String) throws {
        let started = try PythonReaders.startServer(
            Self.script,
            [moto.endpoint, moto.accessKeyID, moto.secretAccessKey, moto.roleARN, token],
            name: "the STS stand-in"
        )
        (self.process, self.input) = (started.process, started.input)
        self.endpoint = String(decoding: started.line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server (its Python sees its standard input end).
    public func stop() {
        try? self.input.fileHandleForWriting.close()
        self.process.waitUntilExit()
    }

    deinit { try? self.input.fileHandleForWriting.close() }
}
