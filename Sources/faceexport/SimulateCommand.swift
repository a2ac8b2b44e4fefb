import ArgumentParser
import FaceSearchSimulation
import FaceSearchSimulator
import Foundation
import Logging

/// `faceexport simulate`: serve a seeded FaceSearch simulator for trying pipelines offline.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Serve a FaceSearch simulator on loopback; prints the key and secret it accepts."
    )

    @Option(help: "The port; 0 picks a free one.")
    var port = 8080

    @Option(help: "The address to listen on (loopback by default).")
    var host = "127.0.0.1"

    @Option(help: "Number of libraries.")
    var groups = 20

    @Option(help: "Largest library size; the first libraries have edge sizes (0, 1, 100, 101, 1000, 1001, 3000).")
    var faces = 5000

    @Flag(help: "Give every library exactly --faces faces instead of mixed sizes.")
    var exactSizes = false

    @Option(help: "Dataset seed.")
    var seed: UInt64 = 1

    @Flag(help: "Faces like production's (plain user_data, a share hard) instead of the hard mix.")
    var realistic = false

    @OptionGroup var realisticData: RealisticDataOptions

    @Flag(help: "Refuse start above 1000 with BAD_ARGUMENTS: start, as a strict server would.")
    var strictStartCap = false

    @Option(help: "add_time form: number, string or mixed.")
    var addTime = "number"

    @Flag(help: "Send a 'next' field in list answers.")
    var sendNext = false

    @Option(
        help: "Share of list calls before which the library changes (a face deleted before the page, or one added)."
    )
    var mutationRate = 0.0

    @Option(help: "A call this API does not offer (get_size, group_list, …); repeat for several.")
    var withoutCall: [String] = []

    @Option(help: "How a call given with --without-call is refused: not-found (404 API_NOT_FOUND) or denied (403).")
    var withoutCallAnswer = SimulatorConfiguration.UnavailableAnswer.notFound.rawValue

    @OptionGroup(title: "Faults")
    var faults: FaultOptions

    @Flag(help: "Keep the time of every admitted call, served with the counters at /_simulator/statistics.")
    var recordTimeline = false

    @Option(help: "The API key to accept (default: a random one).")
    var apiKey: String?

    @Option(help: "A file holding the API secret to accept (default: a random one).")
    var apiSecretFile: String?

    func run() async throws {
        guard let style = SimulatorConfiguration.AddTimeStyle(rawValue: self.addTime) else {
            throw ValidationError("--add-time must be number, string or mixed")
        }
        let key = self.apiKey ?? "sim-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let secret: String
        if let file = self.apiSecretFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read \(file)")
            }
            secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            secret =
                String(UInt64.random(in: 0...UInt64.max), radix: 16)
                + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        }
        var configuration = SimulatorConfiguration(credentials: [key: secret])
        configuration.host = self.host
        configuration.port = self.port
        configuration.startCap = self.strictStartCap ? .strict(1000) : .lax
        configuration.addTimeStyle = style
        configuration.sendsNext = self.sendNext
        guard (0...1).contains(self.mutationRate) else {
            throw ValidationError("--mutation-rate must lie between 0 and 1")
        }
        configuration.mutationRate = self.mutationRate
        configuration.recordsTimeline = self.recordTimeline
        configuration.unavailableCalls = Set(self.withoutCall)
        guard let answer = SimulatorConfiguration.UnavailableAnswer(rawValue: self.withoutCallAnswer) else {
            throw ValidationError("--without-call-answer must be not-found or denied")
        }
        configuration.unavailableAnswer = answer
        configuration.faults = try self.faults.plan()
        configuration.clockOffset = self.faults.clockOffset
        var generator = DatasetGenerator(
            groups: self.groups,
            faces: self.faces,
            sizing: self.exactSizes ? .exact : .mixed,
            seed: self.seed
        )
        if self.realistic { generator.realistic = try self.realisticData.faces() }
        let dataset = generator.make()
        let simulator = FaceSearchSimulator(configuration: configuration, dataset: dataset)
        let host = self.host
        let printSecret = self.apiSecretFile == nil
        try await simulator.run { port in
            var text =
                "FaceSearch simulator on http://\(host):\(port) — \(dataset.groups.count) libraries, \(dataset.faceCount) faces\n"
            text += "FACESEARCH_API_KEY=\(key)\n"
            if printSecret { text += "FACESEARCH_API_SECRET=\(secret)\n" }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
