import FaceSearchSimulation
import FaceSearchSimulator
import Foundation
import TestSupport
import Testing
import Transport

@testable import FaceSearch

/// What the bench's calls-only format measures is the export's own calls.
struct UnreadCallTests {
    @Test func anUnreadListAnswerIsThePageTheClientReads() async throws {
        let dataset = DatasetGenerator(groups: 1, faces: 120, sizing: .exact, seed: 9).make()
        let credentials = FaceSearchCredentials(apiKey: "key", apiSecret: "secret")
        let simulator = FaceSearchSimulator(
            configuration: SimulatorConfiguration(credentials: [credentials.apiKey: credentials.apiSecret]),
            dataset: dataset
        )
        let groupID = try #require(dataset.groups.first?.groupID)
        let (unread, read) = try await simulator.withRunning { port in
            let client = FaceSearchClient(
                endpoint: try FaceSearchEndpoint("http://127.0.0.1:\(port)"),
                signer: RequestSigner(credentials: credentials),
                transport: try CurlTransport()
            )
            return await runOffThePool {
                (
                    client.exchange("list", fields: [("group_id", groupID), ("start", "51"), ("limit", "50")]),
                    Result { () throws(FaceSearchError) in try client.listFaces(groupID: groupID, start: 51, limit: 50)
                    }
                )
            }
        }
        let answer = try unread.get()
        #expect(answer.status == 200)
        let page = try FaceSearchClient.decodeList(.success(answer))
        #expect(page.faces.map(\.faceToken) == Array(dataset.groups[0].faces[50..<100].map(\.faceToken)))
        #expect(page.faces == (try read.get()).faces)
    }
}
