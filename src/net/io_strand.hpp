#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <stdexcept>

namespace bastion::net {

// A strand directly over the io_context behind an executor. Asio's type-erased any_io_executor
// keeps a strand<io_context::executor_type> in its small buffer but a strand<any_io_executor>
// on the heap, so with the latter every co_spawn, handler and executor copy allocates.
using IoStrand = boost::asio::strand<boost::asio::io_context::executor_type>;

// Accepts an io_context executor (tracked or not) or a strand over one (a new strand either way).
inline IoStrand make_io_strand(const boost::asio::any_io_executor& ex) {
  using Plain = boost::asio::io_context::executor_type;
  using Tracked = boost::asio::io_context::basic_executor_type<std::allocator<void>, 4>;
  if (auto* e = ex.target<Plain>()) return boost::asio::make_strand(e->context());
  if (auto* e = ex.target<Tracked>()) return boost::asio::make_strand(e->context());
  if (auto* e = ex.target<IoStrand>()) return boost::asio::make_strand(e->get_inner_executor().context());
  if (auto* e = ex.target<boost::asio::strand<boost::asio::any_io_executor>>()) return make_io_strand(e->get_inner_executor());
  throw std::invalid_argument("make_io_strand: the executor does not belong to an io_context");
}

}  // namespace bastion::net
