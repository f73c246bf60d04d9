module github.com/lanyard-cms/lanyard

go 1.26
