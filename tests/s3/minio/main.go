// SPDX-License-Identifier: Apache-2.0
//
// End-to-end check of strongroom with minio-go v7 (Debian's
// golang-github-minio-minio-go-v7-dev). Built offline by
// tests/s3/test_minio_go.py; reads the endpoint and credentials from the
// environment:
//
//	SR_ENDPOINT    host:port (no scheme; plain HTTP)
//	SR_ACCESS_KEY  access key id
//	SR_SECRET_KEY  secret key
//	SR_BUCKET      bucket to create (must not exist)
//
// Prints one line per step ("ok <step>") and exits 1 with "FAIL <step>: <why>"
// on the first failure.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func fail(step string, format string, args ...interface{}) {
	fmt.Printf("FAIL %s: %s\n", step, fmt.Sprintf(format, args...))
	os.Exit(1)
}

func check(step string, err error) {
	if err != nil {
		resp := minio.ToErrorResponse(err)
		fail(step, "%v (code=%q status=%d request-id=%q)", err, resp.Code, resp.StatusCode, resp.RequestID)
	}
}

func ok(step string) { fmt.Printf("ok %s\n", step) }

func mustEnv(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fail("setup", "environment variable %s is not set", name)
	}
	return v
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func readAll(step string, obj *minio.Object) []byte {
	data, err := io.ReadAll(obj)
	check(step, err)
	check(step, obj.Close())
	return data
}

func main() {
	endpoint := mustEnv("SR_ENDPOINT")
	access := mustEnv("SR_ACCESS_KEY")
	secret := mustEnv("SR_SECRET_KEY")
	bucket := mustEnv("SR_BUCKET")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	client, err := minio.New(endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(access, secret, ""),
		Secure:       false,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	check("new client", err)

	// MakeBucket, BucketExists.
	check("MakeBucket", client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"}))
	exists, err := client.BucketExists(ctx, bucket)
	check("BucketExists", err)
	if !exists {
		fail("BucketExists", "bucket %s does not exist after MakeBucket", bucket)
	}
	ok("MakeBucket")

	// Small PutObject with content type and user metadata.
	small := []byte("hello from minio-go\n")
	info, err := client.PutObject(ctx, bucket, "dir/small.txt", bytes.NewReader(small), int64(len(small)),
		minio.PutObjectOptions{ContentType: "text/plain", UserMetadata: map[string]string{"colour": "blue"}})
	check("PutObject small", err)
	if info.ETag != md5hex(small) {
		fail("PutObject small", "ETag %q, want %q", info.ETag, md5hex(small))
	}
	ok("PutObject small")

	// 70 MiB: minio-go uploads it in 16 MiB parts (multipart).
	big := make([]byte, 70<<20)
	rand.New(rand.NewSource(42)).Read(big)
	info, err = client.PutObject(ctx, bucket, "big.bin", bytes.NewReader(big), int64(len(big)),
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	check("PutObject 70 MiB", err)
	if !strings.Contains(info.ETag, "-") {
		fail("PutObject 70 MiB", "ETag %q is not a multipart ETag (expected <md5>-N)", info.ETag)
	}
	ok("PutObject 70 MiB multipart etag=" + info.ETag)

	// StatObject.
	stat, err := client.StatObject(ctx, bucket, "dir/small.txt", minio.StatObjectOptions{})
	check("StatObject", err)
	if stat.Size != int64(len(small)) || stat.ContentType != "text/plain" || stat.ETag != md5hex(small) {
		fail("StatObject", "size=%d type=%q etag=%q", stat.Size, stat.ContentType, stat.ETag)
	}
	if stat.UserMetadata["Colour"] != "blue" {
		fail("StatObject", "user metadata %v lacks Colour=blue", stat.UserMetadata)
	}
	stat, err = client.StatObject(ctx, bucket, "big.bin", minio.StatObjectOptions{})
	check("StatObject big", err)
	if stat.Size != int64(len(big)) {
		fail("StatObject big", "size=%d want %d", stat.Size, len(big))
	}
	ok("StatObject")

	// GetObject whole and with ranges.
	obj, err := client.GetObject(ctx, bucket, "big.bin", minio.GetObjectOptions{})
	check("GetObject big", err)
	if got := readAll("GetObject big", obj); !bytes.Equal(got, big) {
		fail("GetObject big", "content differs (got %d bytes, md5 %s; want md5 %s)", len(got), md5hex(got), md5hex(big))
	}
	ok("GetObject big")
	for _, r := range [][2]int64{{0, 0}, {1000, 1999}, {16<<20 - 10, 16<<20 + 10}, {int64(len(big)) - 100, int64(len(big)) - 1}} {
		opts := minio.GetObjectOptions{}
		check("SetRange", opts.SetRange(r[0], r[1]))
		obj, err := client.GetObject(ctx, bucket, "big.bin", opts)
		check("GetObject range", err)
		got := readAll(fmt.Sprintf("GetObject range %d-%d", r[0], r[1]), obj)
		if !bytes.Equal(got, big[r[0]:r[1]+1]) {
			fail("GetObject range", "bytes=%d-%d: got %d bytes, want %d", r[0], r[1], len(got), r[1]-r[0]+1)
		}
	}
	ok("GetObject range")

	// ListObjects (recursive and with a delimiter).
	var keys []string
	for o := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		check("ListObjects", o.Err)
		keys = append(keys, o.Key)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "big.bin,dir/small.txt" {
		fail("ListObjects", "keys %v", keys)
	}
	keys = nil
	for o := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: false}) {
		check("ListObjects delimiter", o.Err)
		keys = append(keys, o.Key)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "big.bin,dir/" {
		fail("ListObjects delimiter", "entries %v", keys)
	}
	keys = nil
	for o := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "dir/", Recursive: true, UseV1: true}) {
		check("ListObjects v1", o.Err)
		keys = append(keys, o.Key)
	}
	if strings.Join(keys, ",") != "dir/small.txt" {
		fail("ListObjects v1", "keys %v", keys)
	}
	ok("ListObjects")

	// CopyObject.
	_, err = client.CopyObject(ctx, minio.CopyDestOptions{Bucket: bucket, Object: "copy.txt"},
		minio.CopySrcOptions{Bucket: bucket, Object: "dir/small.txt"})
	check("CopyObject", err)
	obj, err = client.GetObject(ctx, bucket, "copy.txt", minio.GetObjectOptions{})
	check("GetObject copy", err)
	if got := readAll("GetObject copy", obj); !bytes.Equal(got, small) {
		fail("CopyObject", "copy content %q", got)
	}
	ok("CopyObject")

	// Presigned GET, fetched with net/http.
	u, err := client.PresignedGetObject(ctx, bucket, "dir/small.txt", 10*time.Minute, url.Values{})
	check("PresignedGetObject", err)
	resp, err := http.Get(u.String())
	check("presigned GET", err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, small) {
		fail("presigned GET", "status %d body %q", resp.StatusCode, body)
	}
	ok("PresignedGetObject")

	// RemoveObject, then RemoveObjects for the rest.
	check("RemoveObject", client.RemoveObject(ctx, bucket, "copy.txt", minio.RemoveObjectOptions{}))
	_, err = client.StatObject(ctx, bucket, "copy.txt", minio.StatObjectOptions{})
	if err == nil || minio.ToErrorResponse(err).StatusCode != 404 {
		fail("RemoveObject", "object still there or wrong error: %v", err)
	}
	ok("RemoveObject")
	ch := make(chan minio.ObjectInfo, 2)
	ch <- minio.ObjectInfo{Key: "dir/small.txt"}
	ch <- minio.ObjectInfo{Key: "big.bin"}
	close(ch)
	for e := range client.RemoveObjects(ctx, bucket, ch, minio.RemoveObjectsOptions{}) {
		check("RemoveObjects "+e.ObjectName, e.Err)
	}
	for o := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		check("ListObjects after RemoveObjects", o.Err)
		fail("RemoveObjects", "object %s still listed", o.Key)
	}
	ok("RemoveObjects")

	check("RemoveBucket", client.RemoveBucket(ctx, bucket))
	exists, err = client.BucketExists(ctx, bucket)
	check("BucketExists after RemoveBucket", err)
	if exists {
		fail("RemoveBucket", "bucket still exists")
	}
	ok("RemoveBucket")
	fmt.Println("ALL OK")
}
