import Foundation

/// Starts `command` (one shell command line) in the background under a watchdog shell: once this test
/// process is gone, however it ended, the watchdog runs `stop` (shell lines that may use `$child`), so a
/// crashed or killed test run leaves no server behind.
func startWatched(_ command: String, stop: String) throws {
    let parent = ProcessInfo.processInfo.processIdentifier
    let script = """
        \(command) &
        child=$!
        while kill -0 \(parent) 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done
        \(stop)
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    // Not the test's own pipes: the runner waits for them to close before it reaps the test process.
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
}
