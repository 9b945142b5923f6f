import Foundation
import Logging
import WaitingRoomTokens

/// One JSON object per line on standard error, for log shippers (Datadog, Loki, CloudWatch).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [
            "ts": Date().formatted(.iso8601), "level": event.level.rawValue, "logger": label, "msg": "\(event.message)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { fields[key] = "\(value)" }
        let body = fields.sorted { $0.key < $1.key }.map { #""\#(JSONText.escape($0.key))":"\#(JSONText.escape($0.value))""# }
        FileHandle.standardError.write(Data(("{" + body.joined(separator: ",") + "}\n").utf8))
    }
}
