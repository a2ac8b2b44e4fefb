import Foundation
import ObjectStorage
import Synchronization
import TestSupport
import Testing
import Transport

/// A web identity's token exchanged with STS for the role's keys, again before they expire.
struct WebIdentityCredentialsTests {
    /// STS as its documentation answers, recording each request's form.
    final class ScriptedSTS: HTTPTransport {
        let forms = Mutex<[String]>([])
        let answer: @Sendable (Int) -> TransportResponse

        init(answer: @escaping @Sendable (Int) -> TransportResponse) { self.answer = answer }

        func send(
            _ request: TransportRequest,
            completion: @escaping @Sendable (Result<TransportResponse, TransportFailure>) -> Void
        ) {
            let count = self.forms.withLock {
                $0.append(String(decoding: request.body, as: UTF8.self))
                return $0.count
            }
            completion(.success(self.answer(count)))
        }
    }

    static func keys(_ number: Int, expiring: String) -> TransportResponse {
        TransportResponse(
            status: 200,
            body: Data(
                """
                <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
                  <AssumeRoleWithWebIdentityResult><Credentials>
                    <SessionToken>token-\(number)+/=</SessionToken><SecretAccessKey>secret-\(number)</SecretAccessKey>
                    <Expiration>\(expiring)</Expiration><AccessKeyId>ASIA\(number)</AccessKeyId>
                  </Credentials></AssumeRoleWithWebIdentityResult>
                </AssumeRoleWithWebIdentityResponse>
                """.utf8
            )
        )
    }

    @Test func keysAreExchangedOnceAndAgainBeforeTheyExpireWithTheTokenReadAgain() throws {
        let folder = try makeTemporaryDirectory()
        let tokenFile = folder + "/token"
        try "eyJhbGciOi.first+token/=".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let sts = ScriptedSTS { number in
            Self.keys(number, expiring: number == 1 ? "2026-12-06T02:00:00Z" : "2026-12-06T03:00:00.000Z")
        }
        let clock = Mutex(Date(timeIntervalSince1970: 1_796_518_800))  // 2026-12-06T01:00:00Z
        let identity = WebIdentityCredentials(
            roleARN: "arn:aws:iam::123456789012:role/exporter",
            tokenFile: tokenFile,
            sessionName: "faceexport",
            endpoint: URL(string: "https://sts.eu-central-1.amazonaws.com")!,
            transport: sts,
            now: { clock.withLock { $0 } }
        )
        let first = try identity.current()
        #expect(first == .init(accessKeyID: "ASIA1", secretAccessKey: "secret-1", sessionToken: "token-1+/="))
        clock.withLock { $0 += 3000 }  // 01:50: ten minutes left, more than the five-minute margin
        #expect(try identity.current() == first)
        #expect(sts.forms.withLock { $0.count } == 1)

        try "eyJhbGciOi.second".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        clock.withLock { $0 += 330 }  // 01:55:30: under five minutes left
        #expect(try identity.current().accessKeyID == "ASIA2")
        let forms = sts.forms.withLock { $0 }
        #expect(forms.count == 2)
        #expect(
            forms[0] == "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
                + "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fexporter&RoleSessionName=faceexport"
                + "&WebIdentityToken=eyJhbGciOi.first%2Btoken%2F%3D"
        )
        #expect(forms[1].hasSuffix("&WebIdentityToken=eyJhbGciOi.second"), "the token file is read again")
    }

    @Test func aRefusedTokenIsTheStoresErrorInOneLineWithoutTheToken() throws {
        let folder = try makeTemporaryDirectory()
        try "secret-token-value".write(toFile: folder + "/token", atomically: true, encoding: .utf8)
        let sts = ScriptedSTS { _ in
            TransportResponse(
                status: 400,
                body: Data(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Couldn't retrieve verification key from your identity provider</Message></Error></ErrorResponse>"
                        .utf8
                )
            )
        }
        let identity = WebIdentityCredentials(
            roleARN: "arn:aws:iam::123456789012:role/exporter",
            tokenFile: folder + "/token",
            sessionName: "faceexport",
            endpoint: URL(string: "https://sts.eu-central-1.amazonaws.com")!,
            transport: sts
        )
        let refused = #expect(throws: ObjectStorageError.self) { try identity.current() }
        #expect(refused?.code == "InvalidIdentityToken" && refused?.status == 400)
        #expect(refused.map { !"\($0)".contains("secret-token-value") && !"\($0)".contains("\n") } == true)
        let missing = WebIdentityCredentials(
            roleARN: "arn:aws:iam::123456789012:role/exporter",
            tokenFile: folder + "/absent",
            sessionName: "faceexport",
            endpoint: URL(string: "https://sts.eu-central-1.amazonaws.com")!,
            transport: sts
        )
        #expect(throws: ObjectStorageError.self) { try missing.current() }
    }

    @Test func theEndpointIsRegionalUnlessTheEnvironmentNamesOne() {
        #expect(
            WebIdentityCredentials.endpoint(region: "eu-central-1", environment: [:])?.absoluteString
                == "https://sts.eu-central-1.amazonaws.com"
        )
        #expect(
            WebIdentityCredentials.endpoint(region: "x", environment: ["AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5"])?
                .absoluteString == "http://127.0.0.1:5"
        )
    }
}
