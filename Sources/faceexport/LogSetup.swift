import Logging

/// The executable's logging: human-readable lines on standard error.
enum LogSetup {
    static func bootstrap(level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "faceexport")
        logger.logLevel = level
        return logger
    }
}
