import Foundation
import ObjectStorage
import TestSupport
import Testing

/// Credentials found as the AWS tools find them: the environment, web identity, the shared files.
struct CredentialSourceTests {
    static func keys(_ source: CredentialSource) -> (SignatureV4.Credentials, String)? {
        if case .keys(let credentials, let from) = source { return (credentials, from) }
        return nil
    }

    @Test func theEnvironmentComesFirstWithItsSessionToken() throws {
        let home = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        try "[default]\naws_access_key_id = FILE\naws_secret_access_key = file-secret\n"
            .write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
        let source = try CredentialSource.find(
            environment: ["AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "t"],
            home: home
        )
        let (credentials, from) = try #require(Self.keys(source))
        #expect(credentials == .init(accessKeyID: "ENV", secretAccessKey: "env-secret", sessionToken: "t"))
        #expect(from == "the environment (AWS_ACCESS_KEY_ID)")
        let fromFile = try #require(Self.keys(try CredentialSource.find(environment: [:], home: home)))
        #expect(fromFile.0 == .init(accessKeyID: "FILE", secretAccessKey: "file-secret"))
        #expect(fromFile.1 == "profile 'default' of \(home)/.aws/credentials")
    }

    @Test func aWebIdentityNamesItsRoleTokenFileAndSession() throws {
        let source = try CredentialSource.find(
            environment: [
                "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
                "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/faceexport",
            ],
            home: "/nonexistent"
        )
        #expect(
            source
                == .webIdentity(
                    roleARN: "arn:aws:iam::123456789012:role/faceexport",
                    tokenFile: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
                    sessionName: "faceexport"
                )
        )
    }

    @Test func aNamedProfileIsReadFromTheCredentialsFileOrTheConfigFile() throws {
        let folder = try makeTemporaryDirectory()
        let credentials = folder + "/credentials"
        let config = folder + "/config"
        try """
        # the team's keys
        [default]
        aws_access_key_id = DEFAULT
        aws_secret_access_key = default-secret

        [nightly]
        aws_access_key_id=NIGHTLY
        aws_secret_access_key =  nightly/secret+with=signs
        aws_session_token = token
        """.write(toFile: credentials, atomically: true, encoding: .utf8)
        try """
        [profile archive]
        region = eu-central-1
        s3 =
          addressing_style = path
        aws_access_key_id = ARCHIVE
        aws_secret_access_key = archive-secret
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let files = ["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": config]
        let nightly = try #require(
            Self.keys(
                try CredentialSource.find(environment: files.merging(["AWS_PROFILE": "nightly"]) { $1 }, home: "/")
            )
        )
        #expect(
            nightly.0
                == .init(accessKeyID: "NIGHTLY", secretAccessKey: "nightly/secret+with=signs", sessionToken: "token")
        )
        let archive = try #require(
            Self.keys(
                try CredentialSource.find(environment: files.merging(["AWS_PROFILE": "archive"]) { $1 }, home: "/")
            )
        )
        #expect(archive.0 == .init(accessKeyID: "ARCHIVE", secretAccessKey: "archive-secret"))
        #expect(archive.1 == "profile 'archive' of \(config)")
    }

    @Test func whatIsMissingOrMalformedIsOneLineWithoutASecret() throws {
        let folder = try makeTemporaryDirectory()
        try "[default]\naws_access_key_id = ONLY-THE-KEY\nthis line is broken\n"
            .write(toFile: folder + "/credentials", atomically: true, encoding: .utf8)
        let cases: [([String: String], String)] = [
            (["AWS_ACCESS_KEY_ID": "K"], "AWS_SECRET_ACCESS_KEY is not: set both"),
            (["AWS_SECRET_ACCESS_KEY": "very-secret"], "AWS_ACCESS_KEY_ID is not: set both"),
            (["AWS_WEB_IDENTITY_TOKEN_FILE": "/t"], "AWS_ROLE_ARN is not: set both"),
            (["AWS_SHARED_CREDENTIALS_FILE": folder + "/credentials"], "\(folder)/credentials:3: expected"),
            (["AWS_PROFILE": "nightly"], "no object storage credentials: set AWS_ACCESS_KEY_ID"),
        ]
        for (environment, message) in cases {
            let error = #expect(throws: CredentialSourceError.self) {
                try CredentialSource.find(environment: environment, home: "/nonexistent")
            }
            #expect(error?.description.contains(message) == true, "\(environment): \(String(describing: error))")
            #expect(error?.description.contains("very-secret") == false && error?.description.contains("\n") == false)
        }
        try "[default]\naws_access_key_id = ONLY-THE-KEY\n".write(
            toFile: folder + "/credentials",
            atomically: true,
            encoding: .utf8
        )
        let half = #expect(throws: CredentialSourceError.self) {
            try CredentialSource.find(environment: ["AWS_SHARED_CREDENTIALS_FILE": folder + "/credentials"], home: "/")
        }
        #expect(half?.description.contains("has only one of aws_access_key_id and aws_secret_access_key") == true)
    }
}
