import Foundation

/// Where object storage keys come from, found as the AWS tools find them; never from a pipeline file.
public enum CredentialSource: Sendable, Hashable {
    /// Keys given whole: the environment or a profile of the shared files.
    case keys(SignatureV4.Credentials, from: String)
    /// A web identity token to exchange with STS (`AssumeRoleWithWebIdentity`), as EKS service
    /// accounts give: the role, the file holding the token (re-read at each exchange), the session.
    case webIdentity(roleARN: String, tokenFile: String, sessionName: String)

    /// The source the environment names, in the AWS tools' order: `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`); `AWS_WEB_IDENTITY_TOKEN_FILE` with
    /// `AWS_ROLE_ARN`; the profile `AWS_PROFILE` (or `default`) of the shared credentials file
    /// (`AWS_SHARED_CREDENTIALS_FILE`, or `~/.aws/credentials`), then of the config file
    /// (`AWS_CONFIG_FILE`, or `~/.aws/config`).
    public static func find(
        environment: [String: String],
        home: String
    ) throws(CredentialSourceError) -> CredentialSource {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        switch (value("AWS_ACCESS_KEY_ID"), value("AWS_SECRET_ACCESS_KEY")) {
        case (let key?, let secret?):
            let credentials = SignatureV4.Credentials(
                accessKeyID: key,
                secretAccessKey: secret,
                sessionToken: value("AWS_SESSION_TOKEN")
            )
            return .keys(credentials, from: "the environment (AWS_ACCESS_KEY_ID)")
        case (.some, nil):
            throw CredentialSourceError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both")
        case (nil, .some):
            throw CredentialSourceError("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both")
        case (nil, nil):
            break
        }
        if let tokenFile = value("AWS_WEB_IDENTITY_TOKEN_FILE") {
            guard let role = value("AWS_ROLE_ARN") else {
                throw CredentialSourceError("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not: set both")
            }
            return .webIdentity(
                roleARN: role,
                tokenFile: tokenFile,
                sessionName: value("AWS_ROLE_SESSION_NAME") ?? "faceexport"
            )
        }
        let profile = value("AWS_PROFILE") ?? value("AWS_DEFAULT_PROFILE") ?? "default"
        let files = [
            (value("AWS_SHARED_CREDENTIALS_FILE") ?? home + "/.aws/credentials", profile),
            (
                value("AWS_CONFIG_FILE") ?? home + "/.aws/config",
                profile == "default" ? "default" : "profile " + profile
            ),
        ]
        for (path, section) in files {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let entries = try SharedConfigFile.section(section, of: text, path: path)
            guard let entries else { continue }
            switch (entries["aws_access_key_id"], entries["aws_secret_access_key"]) {
            case (let key?, let secret?):
                let credentials = SignatureV4.Credentials(
                    accessKeyID: key,
                    secretAccessKey: secret,
                    sessionToken: entries["aws_session_token"]
                )
                return .keys(credentials, from: "profile '\(profile)' of \(path)")
            case (nil, nil):
                continue
            default:
                throw CredentialSourceError(
                    "profile '\(profile)' of \(path) has only one of aws_access_key_id and aws_secret_access_key"
                )
            }
        }
        throw CredentialSourceError(
            "no object storage credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                + "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or a profile '\(profile)' in \(files[0].0)"
        )
    }
}

/// Why no credentials could be found, in one line that names what to set (never a secret).
public struct CredentialSourceError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The AWS tools' shared files: `[section]` headers, `key = value` lines, `#` and `;` comments.
enum SharedConfigFile {
    /// The entries of `section`, or nil when the file has none; a line that is neither a header,
    /// an entry, a comment nor blank is an error naming the file and the line.
    static func section(
        _ name: String,
        of text: String,
        path: String
    ) throws(CredentialSourceError) -> [String: String]? {
        var current: String?
        var entries: [String: String]?
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if current == name && entries == nil { entries = [:] }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw CredentialSourceError("\(path):\(number + 1): expected [section] or key = value")
            }
            // Nested settings (`s3 =` then indented lines) belong to the entry before; only
            // top-level keys are read.
            guard current == name, !rawLine.hasPrefix(" "), !rawLine.hasPrefix("\t") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            entries?[key] = value
        }
        return entries
    }
}
