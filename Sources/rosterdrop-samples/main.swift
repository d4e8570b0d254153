// The entry point stays a one-liner: everything the tool does lives in RosterDropSamples.
SamplesCommand.main()
