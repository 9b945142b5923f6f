import ArgumentParser
import Foundation
import WaitingRoomTokens

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make and inspect Ed25519 signing keys.",
        subcommands: [Generate.self, Show.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a new Ed25519 private key (PKCS#8 PEM) and print its kid.")

        @Option(name: .shortAndLong, help: "Where to write the PEM file (mode 0600).")
        var out: String

        @Flag(help: "Replace the file if it exists.")
        var force = false

        func run() throws {
            if FileManager.default.fileExists(atPath: out) && !force {
                throw ValidationError("\(out) exists; pass --force to replace it")
            }
            let key = Ed25519PrivateKey()
            let pem = try key.pem()
            guard FileManager.default.createFile(atPath: out, contents: Data(pem.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ValidationError("cannot write \(out)")
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: out)
            print(key.publicKey.keyID)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the kid and public JWK of a PEM private key.")

        @Argument(help: "A PEM private key file.")
        var file: String

        func run() throws {
            let key = try Ed25519PrivateKey(pemFile: file)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print("kid: \(key.publicKey.keyID)")
            print(String(decoding: try encoder.encode(key.publicKey.jwk), as: UTF8.self))
        }
    }
}
