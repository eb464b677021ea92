module github.com/edgesec/edgesec

go 1.26.0
