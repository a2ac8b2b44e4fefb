import ExportPipeline
import ExportSinks
import FaceExport
import FaceSearch
import FaceSearchSimulation
import FaceSearchSimulator
import Foundation
import TestSupport
import Testing
import Transport

/// Pipelines over several accounts: each with its own key, libraries and pacing.
@Suite(.timeLimit(.minutes(10)))
struct AccountTests {
    @Test func discoveryAcrossTwoAccountsWithTheirOwnCredentialsAndRates() async throws {
        let first = DatasetGenerator(groups: 3, faces: 150, sizing: .exact, seed: 31).make()
        var second = DatasetGenerator(groups: 2, faces: 80, sizing: .exact, seed: 32).make()
        for index in second.groups.indices { second.groups[index].groupID = "other-\(index)" }
        let keys = [
            FaceSearchCredentials(apiKey: "key-a", apiSecret: "secret-a"),
            FaceSearchCredentials(apiKey: "key-b", apiSecret: "secret-b"),
        ]
        let configuration = SimulatorConfiguration(
            credentials: Dictionary(uniqueKeysWithValues: keys.map { ($0.apiKey, $0.apiSecret) })
        )
        let simulator = FaceSearchSimulator(configuration: configuration, datasets: ["key-a": first, "key-b": second])
        let folder = try makeTemporaryDirectory()
        let report = try await withExportSlot {
            try await simulator.withRunning { port in
                let endpoint = try FaceSearchEndpoint("http://127.0.0.1:\(port)")
                let clients = try keys.map {
                    FaceSearchClient(
                        endpoint: endpoint,
                        signer: RequestSigner(credentials: $0),
                        transport: try CurlTransport()
                    )
                }
                // An account sees only its own libraries.
                let foreign = await runOffThePool { () -> String? in
                    do throws(FaceSearchError) {
                        _ = try clients[0].groupSize(groupID: "other-0")
                        return nil
                    } catch {
                        return error.apiCode
                    }
                }
                #expect(foreign == "INVALID_GROUP_ID")
                var configuration = ExportConfiguration()
                configuration.pageSize = 50
                configuration.manifestPath = folder + "/manifest.json"
                let job = ExportJob(
                    configuration: configuration,
                    context: RunContext(runID: "accounts"),
                    accounts: [
                        AccountJob(name: "sgp-a", client: clients[0], groups: .all, rateLimit: .fixed(500, burst: 5)),
                        AccountJob(
                            name: "sgp-b",
                            client: clients[1],
                            groups: .all,
                            rateLimit: .fixed(200, burst: 2, maxInFlight: 1)
                        ),
                    ],
                    outputs: [
                        .init(format: .ndjson, path: try OutputPathTemplate(folder + "/{account}.ndjson")),
                        .init(format: .sqlite, path: try OutputPathTemplate(folder + "/faces.sqlite")),
                    ],
                    pathValues: .init(date: "2026-11-26", runID: "accounts", pipeline: "accounts")
                )
                return await ExportJob.run(job.makeRun(clock: ManualClock()))
            }
        }
        #expect(report.outcome == .complete)
        #expect(Set(report.groups.map(\.account)) == ["sgp-a", "sgp-b"])
        #expect(Set(try readNDJSON(folder + "/sgp-a.ndjson")) == Set(expectedRows(first.groups)))
        #expect(Set(try readNDJSON(folder + "/sgp-b.ndjson")) == Set(expectedRows(second.groups)))
        // Discovery's metadata reaches the manifest and the SQLite groups table.
        let manifest =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
            as? [String: Any]
        let groups = try #require(manifest?["groups"] as? [[String: Any]])
        let entry = try #require(groups.first { $0["group_id"] as? String == "other-1" })
        #expect(entry["account"] as? String == "sgp-b")
        #expect(entry["group_name"] as? String == second.groups[1].groupName)
        #expect(entry["group_data"] as? String == second.groups[1].groupData)
        #expect(
            entry["group_add_time"] as? String == Timestamp.formatRFC3339UTC(milliseconds: second.groups[1].addTime)
        )
        let rows = try sqliteRows(
            folder + "/faces.sqlite",
            "SELECT account, group_id, group_name FROM groups ORDER BY account, group_id"
        )
        #expect(rows.count == 5)
        #expect(rows.last?["group_name"] as? String == second.groups[1].groupName)
    }

    @Test func anEmbeddedPipelineWithTwoAccountsExportsBoth() async throws {
        let folder = try makeTemporaryDirectory()
        let yaml = embeddedPipeline(
            name: "two",
            folder: folder,
            groups: 4,
            faces: 200,
            seed: 40,
            extra: """
                accounts:
                  - {name: north, rate_limit: {mode: fixed, requests_per_second: 500}}
                  - {name: south, groups: [grp-0001, grp-0003]}
                """,
            outputs: [#"{format: csv, path: "{account}/faces.csv.gz"}"#]
        )
        try yaml.write(toFile: folder + "/two.yaml", atomically: true, encoding: .utf8)
        let result = try await CommandLineTests.faceexport(["run", folder + "/two.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        let north = DatasetGenerator(groups: 4, faces: 200, sizing: .mixed, seed: 40).make()
        let south = DatasetGenerator(groups: 4, faces: 200, sizing: .mixed, seed: 41).make()
        #expect(try csvRows(folder + "/out/north/faces.csv.gz").count == north.faceCount)
        #expect(
            try csvRows(folder + "/out/south/faces.csv.gz").count == south.groups[1].faces.count
                + south.groups[3].faces.count
        )
        let refused = try await CommandLineTests.faceexport([
            "run", folder + "/two.yaml", "--groups-file", folder + "/two.yaml",
        ])
        #expect(refused.status == 4)
    }
}
