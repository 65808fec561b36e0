module storemigrate.local/goref/common

go 1.23
