public import ExportPipeline
public import FaceSearch
import Foundation
public import PipelineFile

/// Secrets as a pipeline names them: read from the environment or a file, never from the file itself,
/// never logged.
public enum Secrets {
    /// A secret from its environment variable or file (surrounding whitespace ignored in a file).
    /// `orElse` follows the advice to set the variable when it is missing.
    public static func read(
        _ source: PipelineDefinition.SecretSource,
        what: String,
        orElse: String = ""
    ) throws(LaunchError) -> String {
        switch source {
        case .environment(let variable):
            guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                throw LaunchError("the \(what) is missing: set \(variable)\(orElse)")
            }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
            else { throw LaunchError("cannot read the \(what) file \(path)") }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw LaunchError("the \(what) file \(path) is empty") }
            return trimmed
        }
    }

    /// An account's key and secret from their files or environment variables.
    public static func credentials(
        _ source: PipelineDefinition.Credentials
    ) throws(LaunchError) -> FaceSearchCredentials {
        func value(file: String?, environment: String, what: String) throws(LaunchError) -> String {
            try Self.read(
                file.map { .file($0) } ?? .environment(environment),
                what: what,
                orElse: " or name a file in the pipeline's credentials"
            )
        }
        return FaceSearchCredentials(
            apiKey: try value(file: source.apiKeyFile, environment: source.apiKeyEnvironment, what: "API key"),
            apiSecret: try value(
                file: source.apiSecretFile,
                environment: source.apiSecretEnvironment,
                what: "API secret"
            )
        )
    }

    /// The transform's pseudonymisation key from its environment variable or file; errors name the
    /// pipeline's line.
    public static func hashKey(
        _ source: TransformConfiguration.KeySource,
        definition: PipelineDefinition,
        file: String
    ) throws(PipelineFileError) -> [UInt8] {
        func fail(_ message: String) -> PipelineFileError {
            PipelineFileError(file: file, line: definition.hashKeyLine, key: "transform.hash_key", message: message)
        }
        switch source {
        case .environment(let variable):
            guard let text = ProcessInfo.processInfo.environment[variable], !text.isEmpty else {
                throw fail("the environment variable \(variable) is not set (it holds the hash key)")
            }
            return Array(text.utf8)
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw fail("cannot read the key file \(path)")
            }
            let key = Array(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
            guard !key.isEmpty else { throw fail("the key file \(path) is empty") }
            return key
        }
    }
}
