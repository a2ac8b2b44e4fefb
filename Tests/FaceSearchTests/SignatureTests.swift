import FaceSearch
import Foundation
import Testing

@testable import FaceSearchSimulation

struct SignatureTests {
    let credentials = FaceSearchCredentials(apiKey: "demo_key_0123456789", apiSecret: "demo_secret_abcdef")

    @Test func specTestVector() {
        let sign = RequestSigner.signature(
            credentials: self.credentials,
            expireTime: 1_700_000_100,
            currentTime: 1_700_000_000,
            random: "0123456789"
        )
        #expect(
            sign
                == "nEJuag0MyqSV82WVpncV6TMVykthPWRlbW9fa2V5XzAxMjM0NTY3ODkmYj0xNzAwMDAwMTAwJmM9MTcwMDAwMDAwMCZkPTAxMjM0NTY3ODk="
        )
    }

    @Test func everySignatureIsFreshWithAShortWindowAndTenDigitRandom() throws {
        let signer = RequestSigner(credentials: self.credentials, validity: 100, now: { 1_800_000_000 })
        let first = signer.makeSignature()
        let second = signer.makeSignature()
        #expect(first != second)
        let raw = String(decoding: try #require(Data(base64Encoded: first)).dropFirst(20), as: UTF8.self)
        let fields = Dictionary(
            uniqueKeysWithValues: raw.split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1)
                return (String(parts[0]), String(parts[1]))
            }
        )
        #expect(fields["a"] == "demo_key_0123456789")
        #expect(fields["c"] == "1800000000")
        #expect(fields["b"] == "1800000100")
        #expect(fields["d"]?.count == 10)
        #expect(fields["d"]?.allSatisfy(\.isNumber) == true)
    }

    private func api(now: Int64 = 1_700_000_050) -> FaceSearchAPI {
        let dataset = DatasetGenerator(groups: 1, faces: 3, sizing: .exact, seed: 7).make()
        return FaceSearchAPI(
            configuration: SimulatorConfiguration(credentials: [self.credentials.apiKey: self.credentials.apiSecret]),
            dataset: dataset,
            wallClock: { now }
        )
    }

    private func error(of response: SimulatedResponse) throws -> (status: Int, error: String, hasRequestID: Bool) {
        let object = try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
        return (response.status, try #require(object["error"] as? String), object["request_id"] != nil)
    }

    private func sizeCall(sign: String) -> [String: String] {
        ["sign": sign, "sign_version": "hmac_sha1", "group_id": DatasetGenerator.groupID(0)]
    }

    @Test func simulatorAcceptsTheSpecVectorWithinItsWindow() async throws {
        let sign = RequestSigner.signature(
            credentials: self.credentials,
            expireTime: 1_700_000_100,
            currentTime: 1_700_000_000,
            random: "0123456789"
        )
        let response = await self.api().respond(call: "get_size", fields: self.sizeCall(sign: sign))
        #expect(response.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
        #expect(object["face_count"] as? Int == 3)
        let requestID = try #require(object["request_id"] as? String)
        #expect(requestID.split(separator: ",").count == 2)
    }

    @Test func tamperedSignatureIsRejected() async throws {
        let sign = RequestSigner.signature(
            credentials: FaceSearchCredentials(apiKey: self.credentials.apiKey, apiSecret: "wrong-secret"),
            expireTime: 1_700_000_100,
            currentTime: 1_700_000_000,
            random: "0123456789"
        )
        let answer = try self.error(of: await self.api().respond(call: "get_size", fields: self.sizeCall(sign: sign)))
        #expect(answer.status == 403)
        #expect(answer.error == "AUTHORIZATION_ERROR: INVALID_SIGN")

        // Flipping one byte of the raw text breaks the digest too.
        var bytes = [UInt8](
            try #require(
                Data(
                    base64Encoded: RequestSigner.signature(
                        credentials: self.credentials,
                        expireTime: 1_700_000_100,
                        currentTime: 1_700_000_000,
                        random: "0123456789"
                    )
                )
            )
        )
        bytes[bytes.count - 1] = UInt8(ascii: "8")
        let flipped = try self.error(
            of: await self.api().respond(
                call: "get_size",
                fields: self.sizeCall(sign: Data(bytes).base64EncodedString())
            )
        )
        #expect(flipped.error == "AUTHORIZATION_ERROR: INVALID_SIGN")
    }

    @Test func expiredSignatureIsRejected() async throws {
        let sign = RequestSigner.signature(
            credentials: self.credentials,
            expireTime: 1_700_000_100,
            currentTime: 1_700_000_000,
            random: "0123456789"
        )
        let answer = try self.error(
            of: await self.api(now: 1_700_000_101).respond(call: "get_size", fields: self.sizeCall(sign: sign))
        )
        #expect(answer.status == 403)
        #expect(answer.error == "AUTHORIZATION_ERROR: EXPIRED_SIGN")
        #expect(!answer.hasRequestID)
    }

    @Test func unknownKeyAndGarbageAreUnauthenticated() async throws {
        let unknown = RequestSigner.signature(
            credentials: FaceSearchCredentials(apiKey: "someone_else", apiSecret: "demo_secret_abcdef"),
            expireTime: 1_700_000_100,
            currentTime: 1_700_000_000,
            random: "42"
        )
        for sign in [unknown, "not base64 at all", Data("short".utf8).base64EncodedString()] {
            let answer = try self.error(
                of: await self.api().respond(call: "get_size", fields: self.sizeCall(sign: sign))
            )
            #expect(answer.status == 403)
            #expect(answer.error == "AUTHENTICATION_ERROR")
        }
    }

    @Test func fieldsAreValidatedWithTheSpecErrors() async throws {
        let sign = RequestSigner.signature(
            credentials: self.credentials,
            expireTime: 1_700_000_100,
            currentTime: 1_700_000_000,
            random: "0123456789"
        )
        let api = self.api()
        var fields = self.sizeCall(sign: sign)
        fields["sign_version"] = "hmac_sha256"
        #expect(
            try self.error(of: await api.respond(call: "get_size", fields: fields)).error
                == "BAD_ARGUMENTS: sign_version"
        )
        #expect(
            try self.error(of: await api.respond(call: "get_size", fields: ["sign_version": "hmac_sha1"])).error
                == "MISSING_ARGUMENTS: sign"
        )
        fields = self.sizeCall(sign: sign)
        fields["group_id"] = nil
        #expect(
            try self.error(of: await api.respond(call: "list", fields: fields)).error == "MISSING_ARGUMENTS: group_id"
        )
        fields["group_id"] = "nope"
        #expect(try self.error(of: await api.respond(call: "list", fields: fields)).error == "INVALID_GROUP_ID")
        fields["group_id"] = DatasetGenerator.groupID(0)
        fields["limit"] = "1001"
        #expect(try self.error(of: await api.respond(call: "list", fields: fields)).error == "BAD_ARGUMENTS: limit")
        fields["limit"] = "10"
        fields["start"] = "0"
        #expect(try self.error(of: await api.respond(call: "list", fields: fields)).error == "BAD_ARGUMENTS: start")
        let notFound = await api.respond(call: "nonsense", fields: fields)
        #expect(notFound.status == 404)
        #expect(try self.error(of: notFound).error == "API_NOT_FOUND")
        #expect(try !self.error(of: notFound).hasRequestID)
    }
}
